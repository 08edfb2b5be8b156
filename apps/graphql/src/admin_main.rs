//! `bazaar-admin`: finance's and operators' commands (see the `admin` module, or run it
//! without arguments). Configuration: the same environment variables as `bazaar`.

use std::process::ExitCode;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    bazaar_telemetry::init_logging(false);
    bazaar_graphql::admin::main(std::env::args().skip(1).collect()).await
}
