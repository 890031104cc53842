//! The background tasks of a runtime: spawned with a shutdown signal, counted so that
//! shutting down can wait for them.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::runtime::Handle;
use tokio::sync::{watch, Notify};
use tokio::task::AbortHandle;

/// Spawns tasks that end when the runtime shuts down, and waits for them.
pub(crate) struct Tasks {
    handle: Handle,
    shutdown: watch::Sender<bool>,
    running: Arc<Running>,
}

#[derive(Default)]
struct Running {
    count: AtomicUsize,
    idle: Notify,
}

struct Guard(Arc<Running>);

impl Drop for Guard {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

impl Tasks {
    pub(crate) fn new(handle: Handle) -> Self {
        Tasks {
            handle,
            shutdown: watch::channel(false).0,
            running: Arc::default(),
        }
    }

    /// Runs `task` until it ends or the runtime shuts down, whichever comes first.
    pub(crate) fn spawn(
        &self,
        task: impl Future<Output = ()> + Send + 'static,
    ) -> Option<AbortHandle> {
        let mut shutdown = self.shutdown.subscribe();
        if *shutdown.borrow() {
            return None;
        }
        self.running.count.fetch_add(1, Ordering::AcqRel);
        let guard = Guard(self.running.clone());
        let task = self.handle.spawn(async move {
            let _guard = guard;
            tokio::select! {
                () = task => {}
                _ = shutdown.wait_for(|stopped| *stopped) => {}
            }
        });
        Some(task.abort_handle())
    }

    /// The tokio runtime the tasks run on.
    pub(crate) fn handle(&self) -> &Handle {
        &self.handle
    }

    pub(crate) fn is_shut_down(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// Tells every task to stop.
    pub(crate) fn shut_down(&self) {
        self.shutdown.send_replace(true);
    }

    /// Waits until every task has ended.
    pub(crate) async fn wait(&self) {
        loop {
            let idle = self.running.idle.notified();
            if self.running.count.load(Ordering::Acquire) == 0 {
                return;
            }
            idle.await;
        }
    }
}
