//! The load client: runs one load against one server and prints its report as one JSON line.
//!
//! ```text
//! load --load echo   --port P --server-pid PID [--connections 100] [--in-flight 1] [--payload 32] [--warmup 1] [--window 3]
//! load --load fanout --port P --server-pid PID [--receivers 1000] [--in-flight 8] [--payload 32] [--warmup 1] [--window 3] [--second-port Q]
//! load --load idle   --port P --server-pid PID [--connections 10000] [--memory-cap-mib M] [--payload 32]
//! ```
//!
//! Every load also takes `--json 1` (payloads of JSON-like text, each message different) and
//! `--deflate 1` (negotiate permessage-deflate; a server that compresses prints it after its
//! port, for the runner to pass on), and `--metrics-path PATH` (a server whose idle sockets
//! park prints it: the idle load reads the server's memory once they are all parked, as its
//! `sockets_parked` gauge at PATH says; the other loads ignore it).
//!
//! Everything runs on one thread (a current-thread tokio runtime): pin the process to a core
//! of its own (`taskset -c 1 load ...`), away from the server's. On failure the JSON line has
//! an `error` field and the exit status is 1.

use std::time::Duration;
use wsconnector_bench::args::Args;
use wsconnector_bench::connect::Target;
use wsconnector_bench::load::{echo, fanout, idle};
use wsconnector_bench::payload::Kind;
use wsconnector_bench::procfs::Process;
use wsconnector_bench::report::Report;

fn main() {
    let result = Args::from_env().and_then(|args| run(&args));
    match result {
        Ok(report) => println!("{}", report.to_json()),
        Err(error) => {
            let mut report = Report::default();
            report.text("error", error);
            println!("{}", report.to_json());
            std::process::exit(1);
        }
    }
}

fn run(args: &Args) -> Result<Report, String> {
    let load: String = args.required("load")?;
    let port: u16 = args.required("port")?;
    let server = Process::new(args.required("server-pid")?);
    let seconds = |name: &str, default: f64| -> Result<Duration, String> {
        Duration::try_from_secs_f64(args.get(name, default)?).map_err(|e| format!("--{name}: {e}"))
    };
    let metrics_path: Option<String> = args.optional("metrics-path")?;
    let kind = Kind {
        json: args.get::<u8>("json", 0)? != 0,
        deflate: args.get::<u8>("deflate", 0)? != 0,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    let local = tokio::task::LocalSet::new();
    match load.as_str() {
        "echo" => {
            let shape = echo::Echo {
                connections: args.get("connections", 100)?,
                in_flight: args.get("in-flight", 1)?,
                payload: args.get("payload", 32)?,
                kind,
                warmup: seconds("warmup", 1.0)?,
                window: seconds("window", 3.0)?,
            };
            args.finish()?;
            let target = Target::new(port, shape.connections).with_deflate(kind.deflate);
            local.block_on(&runtime, echo::run(target, server, &shape))
        }
        "fanout" => {
            let shape = fanout::Fanout {
                receivers: args.get("receivers", 1000)?,
                in_flight: args.get("in-flight", 8)?,
                payload: args.get("payload", 32)?,
                kind,
                warmup: seconds("warmup", 1.0)?,
                window: seconds("window", 3.0)?,
            };
            // A server of two nodes: every other receiver on the second one.
            let second = args
                .optional::<u16>("second-port")?
                .map(|port| Target::new(port, shape.receivers / 2).with_deflate(kind.deflate));
            args.finish()?;
            let target = Target::new(port, shape.receivers + 1).with_deflate(kind.deflate);
            local.block_on(&runtime, fanout::run(target, second, server, &shape))
        }
        "idle" => {
            let shape = idle::Idle {
                connections: args.get("connections", 10_000)?,
                memory_cap: args.optional::<u64>("memory-cap-mib")?.map(|m| m << 20),
                payload: args.get("payload", 32)?,
                kind,
                metrics_path,
            };
            args.finish()?;
            let target = Target::new(port, shape.connections).with_deflate(kind.deflate);
            local.block_on(&runtime, idle::run(target, server, &shape))
        }
        other => Err(format!("unknown load {other:?}: echo, fanout or idle")),
    }
}
