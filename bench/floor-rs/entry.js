// The Rust floor's entry module: its object class as DurableObject subclasses (RPC), as
// edge-oidc's scripts/entry.js does; bound as GRANT (class Grant) and ACCOUNT (class Account).
import { DurableObject } from "cloudflare:workers";
import worker, * as wasm from "./wasm.mjs";

class Floor extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.wasm = new wasm.FloorObject(ctx, env);
  }
  command(command) {
    return this.wasm.command(command);
  }
}
export class Grant extends Floor {}
export class Account extends Floor {}
export default worker;
