//! `clearsight serve`: flags to [`crate::serve::ServeOptions`], then the library serves.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

use super::Context;
use crate::engine::parse_size;
use crate::error::{exit, Error, Result};
use crate::serve::{live::LiveMarts, ServeOptions};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on. Anything but a loopback address needs CLEARSIGHT_SERVE_PASSWORD.
    #[arg(long, env = "CLEARSIGHT_SERVE_BIND", default_value = "127.0.0.1:5433")]
    pub bind: SocketAddr,
    /// The user BI tools log in as.
    #[arg(long, env = "CLEARSIGHT_SERVE_USER", default_value = "clearsight")]
    pub user: String,
    /// Memory one query may use (its spillable operators spill, the rest fail with an error,
    /// the server keeps serving), e.g. 512M or 2G.
    #[arg(long, env = "CLEARSIGHT_SERVE_QUERY_MEMORY", default_value = "1G", value_parser = size)]
    pub query_memory: usize,
    /// PEM certificate (chain) for TLS; needs --tls-key.
    #[arg(long, env = "CLEARSIGHT_SERVE_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for TLS; needs --tls-cert.
    #[arg(long, env = "CLEARSIGHT_SERVE_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

fn size(text: &str) -> std::result::Result<usize, String> {
    parse_size(text)
}

/// The password comes from the environment only: a flag would show in `ps`.
pub async fn serve(ctx: &Context, args: &ServeArgs) -> Result<i32> {
    let password = std::env::var("CLEARSIGHT_SERVE_PASSWORD").ok();
    let tls = args.tls_cert.clone().zip(args.tls_key.clone());
    let options = ServeOptions::new(args.bind, args.user.clone(), password, tls)?;
    if args.query_memory < 1 << 20 {
        return Err(Error::Usage(
            "--query-memory: at least 1M (a query needs room for its first batches)".into(),
        ));
    }
    let live = LiveMarts::new(ctx.engine()?, ctx.project.clone(), args.query_memory);
    crate::serve::serve(options, live).await?;
    Ok(exit::OK)
}
