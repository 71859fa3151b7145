// A scenario file that cannot be run: the message names the step and the key.

export class ScenarioError extends Error {
  /** e.g. `steps[3].dmop.op.u.set_mem_type.nr` or `domains[1].ram` */
  readonly path: string;
  constructor(path: string, message: string, options?: { cause?: unknown }) {
    super(path === "" ? message : `${path}: ${message}`, options);
    this.name = "ScenarioError";
    this.path = path;
  }
}
