// ops 1-6: the ioreq server DMOPs. mirrors common/ioreq.c:ioreq_server_dm_op
import { done } from "../context.js";
import type { OpHandler } from "../context.js";
import { EINVAL } from "../explain.js";
import {
  createServer, destroyServer, getServerInfo, mapIoRange, setServerState,
} from "../ioreq-server.js";

export interface CreateIoreqServer { handle_bufioreq: number; pad: number[]; id: number }
export interface GetIoreqServerInfo { id: number; flags: number; bufioreq_port: number; ioreq_gfn: bigint; bufioreq_gfn: bigint }
export interface IoreqServerRange { id: number; pad: number; type: number; start: bigint; end: bigint }
export interface SetIoreqServerState { id: number; enabled: number; pad: number }
export interface DestroyIoreqServer { id: number; pad: number }

const FN = "ioreq.c:ioreq_server_dm_op";

export const createIoreqServer: OpHandler<CreateIoreqServer> = (ctx, p) => {
  if (p.pad.some((x) => x !== 0)) return done(ctx.refuse(EINVAL, "create_ioreq_server.pad must be zero", FN), false);
  const { rc, id } = createServer(ctx, p.handle_bufioreq);
  if (rc === 0) p.id = id;
  return done(rc, false);
};

export const getIoreqServerInfo: OpHandler<GetIoreqServerInfo> = (ctx, p) => {
  if (ctx.persona.getInfoFlags) {
    if (p.flags & ~1) return done(ctx.refuse(EINVAL, `flags ${p.flags} has bits other than XEN_DMOP_no_gfns`, FN), false);
  } else if (p.flags !== 0) {
    return done(ctx.refuse(EINVAL, "get_ioreq_server_info.pad must be zero", "hvm/dm.c:dm_op"), false);
  }
  const { rc, info } = getServerInfo(ctx, p.id, (p.flags & 1) === 0);
  if (rc === 0) {
    if (info.ioreq_gfn !== undefined) p.ioreq_gfn = info.ioreq_gfn;
    if (info.bufioreq_gfn !== undefined) p.bufioreq_gfn = info.bufioreq_gfn;
    if (info.bufioreq_port !== undefined) p.bufioreq_port = info.bufioreq_port;
  }
  return done(rc, false);
};

function rangeOp(map: boolean): OpHandler<IoreqServerRange> {
  const name = map ? "map_io_range_to_ioreq_server" : "unmap_io_range_from_ioreq_server";
  return (ctx, p) => {
    if (p.pad !== 0) return done(ctx.refuse(EINVAL, `${name}.pad must be zero`, FN));
    return done(mapIoRange(ctx, map, p.id, p.type, p.start, p.end));
  };
}
export const mapIoRangeToIoreqServer = rangeOp(true);
export const unmapIoRangeFromIoreqServer = rangeOp(false);

export const setIoreqServerState: OpHandler<SetIoreqServerState> = (ctx, p) => {
  if (p.pad !== 0) return done(ctx.refuse(EINVAL, "set_ioreq_server_state.pad must be zero", FN));
  return done(setServerState(ctx, p.id, p.enabled !== 0));
};

export const destroyIoreqServer: OpHandler<DestroyIoreqServer> = (ctx, p) => {
  if (p.pad !== 0) return done(ctx.refuse(EINVAL, "destroy_ioreq_server.pad must be zero", FN));
  return done(destroyServer(ctx, p.id));
};
