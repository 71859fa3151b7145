// A consumer of the published package: the codec, the fake, DeviceModel and IoreqClient, typed strictly.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  attachInProcess,
  createFakeHost,
  decode,
  DeviceModel,
  encode,
  fixturesDir,
  guestOf,
  InProcessTransportFactory,
  XenError,
  type IoreqRequest,
  type ioreq,
} from "xendm";
import layouts from "xendm/fixtures/layouts/x86_64.json" with { type: "json" };

// the codec, typed per type name
const bytes = encode("xen_dm_op", { op: "XEN_DMOP_map_mem_type_to_ioreq_server", u: { map_mem_type_to_ioreq_server: { id: 7, type: "HVMMEM_ioreq_server", flags: 2 } } });
const op = decode("xen_dm_op", bytes);
const id7: number | undefined = op.u.map_mem_type_to_ioreq_server?.id;
const rec: ioreq = decode("ioreq_t", encode("ioreq_t", { addr: 0x3f8n, size: 1, type: "IOREQ_TYPE_PIO" }));
const addr: bigint = rec.addr;

// the fake, libxendevicemodel and the emulator side
const { hv, device } = createFakeHost({ domains: [{ domid: 1, vcpus: 1 }] });
const dm = await DeviceModel.open(new InProcessTransportFactory(device));
const id = await dm.createIoreqServer(1, 0);
await dm.mapIoRangeToIoreqServer(1, id, 0, 0x3f8n, 0x3ffn);
const client = attachInProcess(hv, { domid: 1, id, caller: 0 });
await dm.setIoreqServerState(1, id, 1);
const seen: IoreqRequest[] = [];
void client.serve((req) => {
  seen.push(req);
  return req.dir === 1 ? 0x12 : undefined;
});
const guest = guestOf(hv);
const read = guest.pio(1, 0, { port: 0x3f8, size: 1, dir: "read" });
let refused = "";
try {
  await dm.createIoreqServer(99, 0);
} catch (e) {
  if (e instanceof XenError) refused = e.message;
}
client.close();
await dm.close();

const scenario = JSON.parse(readFileSync(join(fixturesDir(), "scenarios", "claim.json"), "utf8")) as { steps: unknown[] };
console.log(JSON.stringify({
  seed: Buffer.from(bytes).toString("hex"),
  id7,
  addr: addr.toString(16),
  status: read.status,
  value: read.status === "done" ? String(read.value) : null,
  requests: seen.length,
  refused: refused !== "",
  layouts: layouts.types.length,
  scenarioSteps: scenario.steps.length,
}));
