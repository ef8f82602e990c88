//! No-op worker: the benchmark's baseline (see Cargo.toml). Its entry point has the same shape
//! as edge-oidc's (`src/platform.rs`): the runtime's own `Request` in, a `Response` built from
//! a status, a `Headers` object and a copied byte body out.
use worker::worker_sys::web_sys;
use worker::{event, Context, Env, Result};

#[event(fetch)]
pub async fn main(_req: web_sys::Request, _env: Env, _ctx: Context) -> Result<web_sys::Response> {
    let headers = web_sys::Headers::new()?;
    headers.append("content-type", "text/plain")?;
    let init = web_sys::ResponseInit::new();
    init.set_status(200);
    init.set_headers(&headers);
    let body = worker::js_sys::Uint8Array::new_with_length(2);
    body.copy_from(b"ok");
    Ok(web_sys::Response::new_with_opt_buffer_source_and_init(Some(&body), &init)?)
}
