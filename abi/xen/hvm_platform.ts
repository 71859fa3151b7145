// The x86 HVM platform devices Xen emulates itself: the emulation flags of a domain
// (public/arch-x86/xen.h), the ACPI I/O blocks (public/hvm/ioreq.h), the HVM params that move or
// enable them (public/hvm/params.h), and the fixed addresses and register facts from Xen's own
// headers (asm/mc146818rtc.h, asm/hvm/vioapic.h, asm/hpet.h, asm/apicdef.h, asm/hvm/vpt.h,
// public/arch-x86/hvm/save.h). Public values checked against the installed Xen 4.17 headers.

// public/arch-x86/xen.h: xen_arch_domainconfig.emulation_flags
export const XEN_X86_EMU_LAPIC = 1 << 0;
export const XEN_X86_EMU_HPET = 1 << 1;
export const XEN_X86_EMU_PM = 1 << 2;
export const XEN_X86_EMU_RTC = 1 << 3;
export const XEN_X86_EMU_IOAPIC = 1 << 4;
export const XEN_X86_EMU_PIC = 1 << 5;
export const XEN_X86_EMU_VGA = 1 << 6;
export const XEN_X86_EMU_IOMMU = 1 << 7;
export const XEN_X86_EMU_PIT = 1 << 8;
export const XEN_X86_EMU_USE_PIRQ = 1 << 9;
export const XEN_X86_EMU_VPCI = 1 << 10;
export const XEN_X86_EMU_ALL = 0x7ff;

/** The names of the flags, for world files and snapshots. */
export const XEN_X86_EMU_NAMES: Readonly<Record<string, number>> = {
  lapic: XEN_X86_EMU_LAPIC,
  hpet: XEN_X86_EMU_HPET,
  pm: XEN_X86_EMU_PM,
  rtc: XEN_X86_EMU_RTC,
  ioapic: XEN_X86_EMU_IOAPIC,
  pic: XEN_X86_EMU_PIC,
  vga: XEN_X86_EMU_VGA,
  iommu: XEN_X86_EMU_IOMMU,
  pit: XEN_X86_EMU_PIT,
  use_pirq: XEN_X86_EMU_USE_PIRQ,
  vpci: XEN_X86_EMU_VPCI,
};

// public/hvm/ioreq.h: the ACPI blocks in their two layouts (HVM_PARAM_ACPI_IOPORTS_LOCATION 0 / 1)
export const ACPI_PM1A_EVT_BLK_ADDRESS_V0 = 0x1f40;
export const ACPI_PM1A_CNT_BLK_ADDRESS_V0 = 0x1f44;
export const ACPI_PM_TMR_BLK_ADDRESS_V0 = 0x1f48;
export const ACPI_GPE0_BLK_ADDRESS_V0 = 0x1f68;
export const ACPI_GPE0_BLK_LEN_V0 = 0x08;
export const ACPI_PM1A_EVT_BLK_ADDRESS_V1 = 0xb000;
export const ACPI_PM1A_CNT_BLK_ADDRESS_V1 = 0xb004;
export const ACPI_PM_TMR_BLK_ADDRESS_V1 = 0xb008;
export const ACPI_GPE0_BLK_ADDRESS_V1 = 0xafe0;
export const ACPI_GPE0_BLK_LEN_V1 = 0x04;

// public/hvm/params.h
export const HVM_PARAM_HPET_ENABLED = 11;
export const HVM_PARAM_ACPI_IOPORTS_LOCATION = 19;

// asm/mc146818rtc.h and public/arch-x86/hvm/save.h
export const RTC_PORT0 = 0x70;
/** CMOS registers the RTC model holds (seconds .. register D); higher indexes go to the device model */
export const RTC_CMOS_SIZE = 14;
export const RTC_SECONDS = 0;
export const RTC_SECONDS_ALARM = 1;
export const RTC_MINUTES = 2;
export const RTC_MINUTES_ALARM = 3;
export const RTC_HOURS = 4;
export const RTC_HOURS_ALARM = 5;
export const RTC_DAY_OF_WEEK = 6;
export const RTC_DAY_OF_MONTH = 7;
export const RTC_MONTH = 8;
export const RTC_YEAR = 9;
export const RTC_REG_A = 10;
export const RTC_REG_B = 11;
export const RTC_REG_C = 12;
export const RTC_REG_D = 13;
export const RTC_UIP = 0x80;
export const RTC_REF_CLCK_32KHZ = 0x20;
export const RTC_SET = 0x80;
export const RTC_DM_BINARY = 0x04;
export const RTC_24H = 0x02;
export const RTC_VRT = 0x80;

// emul-i8254.c, asm/hvm/vpt.h
export const PIT_BASE = 0x40;
export const PIT_SPEAKER_PORT = 0x61;
export const PIT_FREQ = 1193182;

// vpic.c
export const PIC_MASTER_PORT = 0x20;
export const PIC_SLAVE_PORT = 0xa0;
export const ELCR_PORT = 0x4d0;

// pmtimer.c, asm/hvm/vpt.h
export const FREQUENCE_PMTIMER = 3579545;

// asm/hvm/vioapic.h, public/arch-x86/hvm/save.h
export const VIOAPIC_DEFAULT_BASE_ADDRESS = 0xfec00000;
export const VIOAPIC_MEM_LENGTH = 0x100;
export const VIOAPIC_NUM_PINS = 48;
export const VIOAPIC_VERSION_ID = 0x11;

// hpet.c
export const HPET_BASE_ADDRESS = 0xfed00000;
export const HPET_MMAP_SIZE = 1024;

// asm/apicdef.h, vlapic.c
export const APIC_DEFAULT_PHYS_BASE = 0xfee00000;
export const VLAPIC_VERSION = 0x00050014;

// public/arch-x86/xen.h: XEN_HVM_DEBUGCONS_IOPORT (hvm.c registers it for every HVM domain)
export const XEN_HVM_DEBUGCONS_IOPORT = 0xe9;
