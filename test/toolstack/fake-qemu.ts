// A stand-in for QEMU in the supervisor tests: parses the libxl-cmd QMP socket path and -S from its
// argv and behaves as FAKE_QEMU_MODE says. "ok" writes "running" to FAKE_QEMU_STATE_FILE on cont, as
// QEMU writes device-model/<domid>/state.
import { createServer } from "node:net";
import { writeFileSync } from "node:fs";

const mode = process.env.FAKE_QEMU_MODE ?? "ok";
const stateFile = process.env.FAKE_QEMU_STATE_FILE ?? "";
const argv = process.argv.slice(2);
const chardev = argv.find((a) => a.startsWith("socket,id=libxl-cmd,")) ?? "";
const path = /path=([^,]+)/.exec(chardev)?.[1] ?? "";
let running = !argv.includes("-S");

process.stderr.write(`fake-qemu: mode ${mode}\n`);
if (mode === "exit") {
  process.stderr.write("xen-qemu-system-i386: failed to initialize xen: Operation not permitted\n");
  process.exit(1);
}
if (mode === "ignore-signals") {
  process.on("SIGHUP", () => undefined);
  process.on("SIGTERM", () => undefined);
}
const stay = setInterval(() => undefined, 1000);
if (mode !== "silent") {
  const server = createServer((c) => {
    c.setEncoding("utf8");
    const send = (o: unknown): void => {
      c.write(JSON.stringify(o) + "\n");
    };
    if (mode === "garbage") {
      c.write("this is not json\n");
      return;
    }
    send({ QMP: { version: { qemu: { major: 7, minor: 2, micro: 0 }, package: "fake" }, capabilities: ["oob"] } });
    let buf = "";
    c.on("data", (d: string) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const msg = JSON.parse(buf.slice(0, nl)) as { execute: string; id?: unknown };
        buf = buf.slice(nl + 1);
        const id = msg.id;
        switch (msg.execute) {
          case "query-status": {
            const status = mode === "wrong-status" ? "paused" : running ? "running" : "prelaunch";
            send({ return: { status, singlestep: false, running }, id });
            break;
          }
          case "cont":
            running = true;
            send({ event: "RESUME", timestamp: { seconds: 0, microseconds: 0 } });
            send({ return: {}, id });
            if (mode !== "no-state" && stateFile !== "") writeFileSync(stateFile, "running");
            break;
          case "system_reset":
            send({ event: "RESET", data: { guest: false, reason: "host-qmp-system-reset" } });
            send({ return: {}, id });
            break;
          case "quit":
            send({ return: {}, id });
            if (mode !== "ignore-signals") {
              clearInterval(stay);
              server.close();
              setTimeout(() => process.exit(0), 10);
            }
            break;
          case "hang":
            break;
          case "qmp_capabilities":
            send({ return: {}, id });
            break;
          default:
            send({ error: { class: "CommandNotFound", desc: `The command ${msg.execute} has not been found` }, id });
        }
      }
    });
  });
  const delay = mode === "late" ? 300 : 0;
  setTimeout(() => server.listen(path), delay);
}
