// xen/sys/evtchn.h (the Linux /dev/xen/evtchn driver's ioctl interface): _IOC(_IOC_NONE, 'E', nr, size).

/** The ioctl numbers' nr field, by name. */
export const IOCTL_EVTCHN = {
  BIND_VIRQ: 0,
  BIND_INTERDOMAIN: 1,
  BIND_UNBOUND_PORT: 2,
  UNBIND: 3,
  NOTIFY: 4,
  RESET: 5,
  RESTRICT_DOMID: 6,
} as const;
export type EvtchnIoctlName = keyof typeof IOCTL_EVTCHN;

/** sizeof the argument struct of each ioctl (all fields unsigned int, domid_t for RESTRICT_DOMID). */
export const IOCTL_EVTCHN_ARG_SIZE: Readonly<Record<EvtchnIoctlName, number>> = {
  BIND_VIRQ: 4, BIND_INTERDOMAIN: 8, BIND_UNBOUND_PORT: 4, UNBIND: 4, NOTIFY: 4, RESET: 0, RESTRICT_DOMID: 2,
};

/** The full request number: _IOC(_IOC_NONE, 'E', nr, size). */
export function ioctlEvtchn(name: EvtchnIoctlName): number {
  return ((IOCTL_EVTCHN_ARG_SIZE[name] << 16) | (0x45 << 8) | IOCTL_EVTCHN[name]) >>> 0;
}

/** drivers/xen/evtchn.c: a handle nobody restricted ((domid_t)-1). */
export const UNRESTRICTED_DOMID = 0xffff;
