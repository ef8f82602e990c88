//! No-op worker: the benchmark's baseline (see Cargo.toml).
use worker::{event, Context, Env, Request, Response, Result};

#[event(fetch)]
pub async fn main(_req: Request, _env: Env, _ctx: Context) -> Result<Response> {
    Response::ok("ok")
}
