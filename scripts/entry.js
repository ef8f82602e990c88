// The worker's entry module. scripts/entry.sh puts it around worker-build's output (renamed
// to wasm.mjs) as index.js; wrangler.toml's `main` and the benchmark load it.
//
// Each Durable Object class is declared here as a subclass of `DurableObject`, because workerd
// offers JavaScript RPC only on such classes and a wasm-bindgen class cannot extend one. The
// subclass holds the wasm object (src/platform/objects.rs, `object_class!`) and hands it the
// two things the runtime calls: `command(at, json)`, the RPC method every object call uses,
// and `alarm()`. Objects are called by RPC, not `fetch`: about half the CPU of a round trip.
import { DurableObject } from "cloudflare:workers";
import worker, * as wasm from "./wasm.mjs";

function objectClass(Wasm) {
  return class extends DurableObject {
    constructor(ctx, env) {
      super(ctx, env);
      this.wasm = new Wasm(ctx, env);
    }
    command(at, command) {
      return this.wasm.command(at, command);
    }
    alarm() {
      return this.wasm.alarm();
    }
  };
}

export const Accounts = objectClass(wasm.Accounts);
export const Grants = objectClass(wasm.Grants);
export const Throttles = objectClass(wasm.Throttles);
export default worker;
