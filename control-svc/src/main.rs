//! control-svc entry point: read the environment, build, serve until Ctrl-C or SIGTERM; or, as
//! `control-svc import …`, migrate an existing database in.

use control_svc::{Application, Config};
use veloera_proto::startup::{self, Exit};

/// mimalloc: freed memory (argon2 alone takes 19 MiB per password hash) goes back to the OS instead of lingering
/// in glibc's per-thread arenas; idle RSS after sign-in dropped from 88 MB to 61 MB in the benchmark. The relay
/// keeps the system allocator: with mimalloc its memory per open stream was 2.5× higher.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's defaults favour speed over footprint: arenas committed up front and freed pages kept for a while.
/// Control is mostly idle between batches, so it commits on demand and returns pages at once (idle RSS about
/// 30 MB with the defaults, about 10 MB without).
#[allow(unsafe_code, reason = "mimalloc's option setters are FFI; the SAFETY note says why this call is sound")]
fn prefer_small_footprint() {
    // The bindings name only some of mimalloc v2's options; these are its `mi_option_t` values (mimalloc.h).
    const ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;
    const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    // SAFETY: plain option setters of the allocator, called before any thread but main exists.
    unsafe {
        libmimalloc_sys::mi_option_set(ARENA_EAGER_COMMIT, 0);
        libmimalloc_sys::mi_option_set(PURGE_DELAY, 0);
    }
}

fn main() {
    prefer_small_footprint();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        // `control-svc import …` migrates a Veloera, new-api or one-api database in and exits.
        Ok(runtime) if args.first().is_some_and(|a| a == "import") => {
            std::process::exit(runtime.block_on(control_svc::import::cli::main(&args[1..])))
        }
        Ok(runtime) => runtime.block_on(serve()),
        Err(e) => {
            eprintln!("control-svc cannot start its runtime: {e}");
            std::process::exit(1);
        }
    }
}

async fn serve() {
    startup::init_logging(startup::log_format_or_exit());
    let config = startup::or_exit(Config::from_env(), Exit::Config, "configuration error");
    let app = startup::or_exit(Application::build(config).await, Exit::Failed, "control-svc failed to start");
    tracing::info!(http = %app.http_addr(), grpc = %app.grpc_addr(), "control-svc listening");
    startup::or_exit(
        app.run_until(startup::shutdown_signal()).await,
        Exit::Failed,
        "control-svc stopped with an error",
    );
}
