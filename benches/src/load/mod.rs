//! The three loads. Each runs on the load client's single-threaded runtime (tasks spawned
//! with `spawn_local`), opens its connections, and returns a [`crate::report::Report`].

pub mod echo;
pub mod fanout;
pub mod idle;

/// Handshakes in flight at once while connections open: below the smallest listen backlog of
/// the servers measured (128), so that no SYN is dropped and retried a second later.
pub const CONNECT_CONCURRENCY: usize = 64;

/// Bytes read from a socket at a time.
const READ_CHUNK: usize = 64 * 1024;

/// After the window: aborts the connection tasks still running and returns the first error of
/// one that ended early (a connection the server broke makes the run worthless).
async fn first_failure(
    tasks: Vec<tokio::task::JoinHandle<Result<(), String>>>,
) -> Result<(), String> {
    let mut failure = None;
    for task in tasks {
        if !task.is_finished() {
            task.abort();
            continue;
        }
        let error = match task.await {
            Ok(Ok(())) => continue,
            Ok(Err(e)) => e,
            Err(e) => format!("a connection task failed: {e}"),
        };
        failure.get_or_insert(error);
    }
    failure.map_or(Ok(()), Err)
}
