// xendm qemu: Debian's unmodified QEMU as the device model of a fake HVM guest (docs/toolstack.md).
import { DeviceModelError, QmpError } from "../../toolstack/errors.js";
import { GuestIo, GuestIoError } from "../../toolstack/guest-io.js";
import { launchQemu, type QemuGuest } from "../../toolstack/qemu.js";
import { enumeratePci, formatLspci } from "../../toolstack/lspci.js";
import { defineCommand, UsageError, type OptionSpecs, type OptionValues } from "../command.js";

const OPTIONS = {
  memory: { type: "string", value: "MB", default: "64", help: "guest RAM in MiB (QEMU's -m)" },
  vcpus: { type: "string", value: "N", default: "1", help: "vCPUs (QEMU's -smp above 1)" },
  lspci: { type: "boolean", help: "enumerate the guest's PCI bus through CF8/CFC ioreqs, print it lspci -nn style, stop QEMU" },
  timeout: { type: "string", value: "MS", default: "30000", help: "bound on QEMU's start, spawn to running" },
  vga: { type: "string", value: "KIND", choices: ["cirrus", "std", "none"], default: "cirrus", help: "the emulated VGA, as libxl's vga=" },
} as const satisfies OptionSpecs;

export const command = defineCommand({
  name: "qemu",
  summary: "start the fake host and the real QEMU device model as libxl does (--lspci: list its PCI devices)",
  positionals: [{ name: "-- QEMU-ARG", optional: true, rest: true }],
  options: OPTIONS,
  details: [
    "Without --lspci it stays up until SIGINT or SIGTERM and prints where to attach (the privcmd socket for",
    "the shim, the xenstored socket, QMP, the serial file). Exit status 0 after a clean stop, 1 when QEMU",
    "exits or does not become ready in time (its last lines are printed), 2 on bad options.",
  ].join("\n"),
  run: ({ values, positionals }) => qemu(values, positionals),
});
export const { run, summary } = command;

function int(name: string, v: string, min: number, max: number): number {
  if (!/^[0-9]+$/.test(v) || Number(v) < min || Number(v) > max) throw new UsageError(`--${name} ${v}: not an integer in ${min}..${max}`);
  return Number(v);
}

async function qemu(values: OptionValues<typeof OPTIONS>, args: string[]): Promise<number> {
  const memoryMb = int("memory", values.memory, 16, 3840);
  const vcpus = int("vcpus", values.vcpus, 1, 128);
  const startTimeoutMs = int("timeout", values.timeout, 100, 600_000);
  let q: QemuGuest;
  try {
    q = await launchQemu({ memoryMb, vcpus, args, startTimeoutMs, vga: values.vga });
  } catch (e) {
    if (e instanceof DeviceModelError || e instanceof QmpError) {
      process.stderr.write(`xendm qemu: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
  const gone = (): string | null => {
    const x = q.dm.exit;
    return x === null ? null : `${q.dm.what} exited (${x.signal ?? `status ${x.code}`})`;
  };
  if (values.lspci) {
    try {
      const io = new GuestIo(q.guest, q.domid, { deviceModelGone: gone });
      process.stdout.write(formatLspci(await enumeratePci(io.pci)));
    } catch (e) {
      if (!(e instanceof GuestIoError)) throw e;
      process.stderr.write(`xendm qemu: ${e.message}\n`);
      await q.stop().catch(() => undefined);
      return 1;
    }
    await q.stop();
    return 0;
  }
  process.stdout.write([
    `xendm qemu: domain ${q.domid} is running with QEMU (pid ${q.dm.pid}), started in ${q.dm.startupMs.toFixed(0)} ms`,
    `  privcmd socket (XENDM_SOCKET for the shim): ${q.dir}/privcmd.sock`,
    `  xenstored (XENSTORED_PATH):                 ${q.dir}/xenstored.sock`,
    `  QMP:                                        ${q.dir}/qmp-libxl-${q.domid}`,
    `  serial port 0:                              ${q.dir}/serial0`,
    "  stop with Ctrl-C",
    "",
  ].join("\n"));
  const code = await new Promise<number>((resolve) => {
    const stop = (): void => { resolve(0); };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    q.dm.onDeath = (e, lines) => {
      process.stderr.write(`xendm qemu: ${q.dm.what} exited (${e.signal ?? `status ${e.code}`})\n  ${lines.slice(-10).join("\n  ")}\n`);
      resolve(1);
    };
  });
  await q.stop().catch(() => undefined);
  return code;
}
