//! `opsbox` with no subcommand: the console's event loop.
//!
//! One `select!` over keys (read on their own thread), collector updates, log batches,
//! queue readings, signals and a one-second tick. The screen is drawn only when one of
//! them changed something (the tick only when nothing else drew for a second, so ages
//! stay true), at most once per [`MIN_FRAME`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use crossterm::event::{self, Event};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::app::{App, Effect};
use super::collect::{self, Update};
use super::effects;
use super::queue::{collector as queue_collector, QueueReading};
use super::stack::start_stack;
use super::store::Store;
use super::terminal::{self, TerminalGuard, PANIC_AFTER_DRAW_ENV};
use super::theme::Theme;
use crate::env::{AnyEnvironment, Environment};
use crate::model::logs::LogRequest;

/// The shortest time between two frames: a burst of log lines is one redraw, not fifty.
pub const MIN_FRAME: Duration = Duration::from_millis(50);

/// Keys waiting for the app; more would mean the app is stuck.
const INPUT_QUEUE: usize = 256;

/// How often the key thread looks up from waiting to see if it should end.
const INPUT_POLL: Duration = Duration::from_millis(200);

/// How often the Queue view's collector reads the queue.
const QUEUE_INTERVAL: Duration = Duration::from_secs(1);

/// What `opsbox` was started with.
#[derive(Debug, Clone)]
pub struct ConsoleOptions {
    /// The environment to show and act on, with its permissions (`--read-only` included).
    pub environment: AnyEnvironment,
}

/// Runs the console until the operator quits or a signal asks it to; the terminal is
/// restored whatever happens.
pub fn run(options: ConsoleOptions) -> anyhow::Result<()> {
    // Two workers: collectors and a drill's load keep running while the screen draws.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(console(options));
    // A collector stuck in a request must not hold the exit.
    runtime.shutdown_timeout(Duration::from_secs(1));
    result
}

async fn console(options: ConsoleOptions) -> anyhow::Result<()> {
    let environment = options.environment;
    let permissions = environment.permissions().await;
    let mut store = Store::new(
        environment.name(),
        environment.records().root().to_path_buf(),
        permissions.nothing_allowed(),
        Theme::from_env(),
    );
    store.permissions = permissions;
    store.audit_path = environment.records().audit_log_path().to_path_buf();
    let mut app = App::new(store.shared());
    let stop = CancellationToken::new();
    let (updates, mut incoming) = mpsc::channel(collect::UPDATE_QUEUE);
    collect::spawn_all(&environment, updates.clone(), stop.clone());
    let mut log_batches = environment.logs(LogRequest::all(), stop.clone());
    let mut queue = QueueFeed::default();

    let mut signals = Signals::new()?;
    let keys_stop = Arc::new(AtomicBool::new(false));
    let mut keys = spawn_key_reader(keys_stop.clone());
    let panic_after_draw = terminal::panic_after_draw_requested();
    let mut guard = TerminalGuard::enter()?;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut dirty = true;
    let mut last_draw = Instant::now();
    let outcome: anyhow::Result<()> = loop {
        if dirty && last_draw.elapsed() >= MIN_FRAME {
            app.store().borrow_mut().now = chrono::Utc::now();
            if let Err(error) = guard.terminal().draw(|frame| app.render(frame)) {
                break Err(error).context("cannot draw the console");
            }
            dirty = false;
            last_draw = Instant::now();
            if panic_after_draw {
                panic!("{PANIC_AFTER_DRAW_ENV} is set: the console panics on purpose");
            }
        }
        let frame_due = tokio::time::sleep(MIN_FRAME.saturating_sub(last_draw.elapsed()));
        tokio::select! {
            () = frame_due, if dirty => {}
            key = keys.recv() => match key {
                Some(Ok(Event::Key(key))) => { app.handle_key(key); dirty = true; }
                Some(Ok(Event::Resize(..))) => dirty = true,
                Some(Ok(_)) => {}
                Some(Err(error)) => break Err(anyhow::anyhow!("cannot read the terminal: {error}")),
                None => break Err(anyhow::anyhow!("the key reader stopped")),
            },
            Some(update) = incoming.recv() => {
                dirty = true;
                let mut next = Some(update);
                // Drain what else is queued: many updates, one frame.
                while let Some(update) = next.take() {
                    if let Update::Status { result: Ok(_), .. } = &update {
                        queue.ensure_running(&environment, &stop);
                    }
                    app.apply(update);
                    next = incoming.try_recv().ok();
                }
            }
            Some(batch) = log_batches.recv() => {
                app.ingest_logs(batch);
                while let Ok(batch) = log_batches.try_recv() {
                    app.ingest_logs(batch);
                }
                dirty = true;
            }
            Some(reading) = queue.next() => { app.apply_queue(reading); dirty = true; }
            _ = tick.tick() => dirty |= last_draw.elapsed() >= Duration::from_secs(1),
            () = signals.next() => break Ok(()),
        }
        for effect in app.take_effects() {
            match effect {
                Effect::Perform(action) => effects::spawn_action(
                    action,
                    environment.clone(),
                    updates.clone(),
                    stop.clone(),
                ),
                Effect::StartStack => {
                    tokio::spawn(start_stack(environment.clone(), updates.clone()));
                }
                Effect::RefreshQueue => queue.refresh(),
                Effect::ChooseRollout(name) => {
                    if let Err(error) = environment.choose_rollout(&name) {
                        app.refused(format!("{error:#}"));
                    }
                }
            }
        }
        if app.should_quit() {
            break Ok(());
        }
    };
    stop.cancel();
    keys_stop.store(true, Ordering::Relaxed);
    drop(guard);
    // Lines read but not drawn are dropped with the app; nothing else to flush.
    drop(log_batches.try_recv());
    outcome
}

/// SIGTERM, SIGHUP (terminal closed) and SIGINT (sent by another process; Ctrl-C typed
/// here arrives as a key) all end the console cleanly.
struct Signals {
    term: tokio::signal::unix::Signal,
    hangup: tokio::signal::unix::Signal,
    interrupt: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> anyhow::Result<Self> {
        let watch = |kind| signal(kind).context("cannot watch signals");
        Ok(Self {
            term: watch(SignalKind::terminate())?,
            hangup: watch(SignalKind::hangup())?,
            interrupt: watch(SignalKind::interrupt())?,
        })
    }

    async fn next(&mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.hangup.recv() => {}
            _ = self.interrupt.recv() => {}
        }
    }
}

/// Reads terminal events on a thread of its own (crossterm reads block) and hands them
/// over through a bounded channel; ends when `stop` is set or the app is gone.
fn spawn_key_reader(stop: Arc<AtomicBool>) -> mpsc::Receiver<Result<Event, String>> {
    let (sender, receiver) = mpsc::channel(INPUT_QUEUE);
    std::thread::Builder::new()
        .name("opsbox-keys".to_owned())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let event = match event::poll(INPUT_POLL) {
                    Ok(false) => continue,
                    Ok(true) => event::read().map_err(|error| error.to_string()),
                    Err(error) => Err(error.to_string()),
                };
                let failed = event.is_err();
                if sender.blocking_send(event).is_err() || failed {
                    return;
                }
            }
        })
        .map(drop)
        .unwrap_or_else(|error| tracing::warn!(%error, "cannot start the key reader"));
    receiver
}

/// The Queue view's collector, started once the environment answers (and again if it
/// ever ended); each reading goes through the environment, which finds a new daemon.
#[derive(Default)]
struct QueueFeed {
    readings: Option<mpsc::Receiver<QueueReading>>,
    refresh: Option<mpsc::Sender<()>>,
}

impl QueueFeed {
    fn ensure_running(&mut self, environment: &AnyEnvironment, stop: &CancellationToken) {
        if self.readings.is_some() {
            return;
        }
        let (refresh, refresh_rx) = mpsc::channel(1);
        self.readings = Some(queue_collector::spawn(
            environment.clone(),
            QUEUE_INTERVAL,
            refresh_rx,
            stop.child_token(),
        ));
        self.refresh = Some(refresh);
    }

    async fn next(&mut self) -> Option<QueueReading> {
        match &mut self.readings {
            Some(readings) => {
                let reading = readings.recv().await;
                if reading.is_none() {
                    self.readings = None;
                }
                reading
            }
            None => std::future::pending().await,
        }
    }

    fn refresh(&self) {
        if let Some(refresh) = &self.refresh {
            // Full means a reading is already asked for.
            let _ = refresh.try_send(());
        }
    }
}
