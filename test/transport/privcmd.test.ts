// The koffi privcmd transport without a Xen host: a missing device is a typed open error, and
// DeviceModel.open passes it on (as xendevicemodel_open returns NULL with errno set).
import { describe, expect, it } from "vitest";
import { DeviceModel } from "../../src/devicemodel/index.js";
import { PrivcmdOpenError, PrivcmdTransport, PrivcmdTransportFactory } from "../../src/transport/privcmd.js";

describe("PrivcmdTransport", () => {
  it("open of a missing device rejects with PrivcmdOpenError and the errno", async () => {
    const e = await PrivcmdTransport.open("/nonexistent/xen/privcmd").then(() => undefined, (x: unknown) => x);
    expect(e).toBeInstanceOf(PrivcmdOpenError);
    expect(e).toMatchObject({ errno: 2, path: "/nonexistent/xen/privcmd" });
    await expect(DeviceModel.open(new PrivcmdTransportFactory("/nonexistent/xen/privcmd"))).rejects.toThrow(PrivcmdOpenError);
  });

  it("a file that is not privcmd answers the ioctls with an errno (the probe fails: hypercall path)", async () => {
    const dm = await DeviceModel.open(new PrivcmdTransportFactory("/dev/null"));
    expect(dm.path).toBe("hypercall");
    await expect(dm.nrVcpus(1)).rejects.toMatchObject({ errnoName: "ENOTTY", where: "hypercall" });
    await dm.close();
  });
});
