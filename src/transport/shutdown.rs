//! The one shutdown future every transport selects on: Ctrl-C or SIGTERM.

/// Resolves when the process is asked to stop (SIGTERM or SIGINT). The
/// handlers are installed now, before the returned future is first polled:
/// a server that announces it is ready after calling this cannot be killed
/// by a signal that arrives in between.
pub fn armed() -> impl std::future::Future<Output = ()> + Send {
    use tokio::signal::unix::{SignalKind, signal as unix_signal};
    let terminate = unix_signal(SignalKind::terminate()).ok();
    let interrupt = unix_signal(SignalKind::interrupt()).ok();
    async move {
        let wait = |s: Option<tokio::signal::unix::Signal>| async move {
            match s {
                Some(mut s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = wait(terminate) => {}
            () = wait(interrupt) => {}
        }
    }
}
