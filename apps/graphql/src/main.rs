//! `bazaar`: runs the HTTP server with the workers in-process. `--demo` loads demo data into
//! an empty database. Configuration: environment variables (README).

use std::process::ExitCode;

/// mimalloc instead of the C library's allocator: a request allocates and frees many small
/// buffers across threads, where glibc's malloc took about a fifth of the server's CPU.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[actix_web::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = match bazaar_graphql::Config::from_env(&args) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("bazaar: {error}");
            return ExitCode::from(2);
        }
    };
    if let Err(error) = config.check_production() {
        eprintln!("bazaar: {error}");
        return ExitCode::from(2);
    }
    bazaar_telemetry::init_logging(config.log_json);
    match bazaar_graphql::serve(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "Bazaar could not run");
            ExitCode::FAILURE
        }
    }
}
