//! The engine's events on their way out. A session writes them to its [`Outbox`] as it works,
//! never waiting for a listener; whoever hosts the session hands them on. The native engine
//! thread does so through an [`EventSink`], which applies the channel's delivery rules: stage
//! events are never dropped (the thread waits for room); metric points are never lost but are
//! batched while the listener is slow, so training never waits on them; of probe snapshots only
//! the latest waits for room; progress ticks are dropped when the channel is full, because the
//! next one supersedes them.

use crate::protocol::{Event, MetricPoint, Probe};
use crossbeam_channel::{Sender, TrySendError};
use std::time::{Duration, Instant};

/// The events a session has produced since its host last took them, in order.
#[derive(Default)]
pub(crate) struct Outbox {
    events: Vec<Event>,
    last_progress: Option<Instant>,
    /// The last step reported, sent or not (what a lost remote device had reached).
    last_step: u64,
}

/// Progress ticks closer together than this are not worth a listener's time.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);

impl Outbox {
    /// The last optimizer step reported.
    pub(crate) fn last_step(&self) -> u64 {
        self.last_step
    }

    /// Queues an event that must arrive.
    pub(crate) fn send(&mut self, event: Event) {
        self.events.push(event);
    }

    /// Queues metric points, joining them to the points queued just before.
    pub(crate) fn metrics(&mut self, points: Vec<MetricPoint>) {
        match self.events.last_mut() {
            Some(Event::Metrics(queued)) => queued.extend(points),
            _ => self.events.push(Event::Metrics(points)),
        }
    }

    /// Queues a probe snapshot.
    pub(crate) fn probe(&mut self, probe: Probe) {
        self.events.push(Event::Probe(Box::new(probe)));
    }

    /// Queues a progress tick unless one went out very recently (`force` queues regardless).
    pub(crate) fn progress(&mut self, stage: usize, step: u64, epoch: u64, paused: bool, force: bool) {
        self.last_step = step;
        let due = self.last_progress.is_none_or(|t| t.elapsed() >= PROGRESS_INTERVAL);
        if due || force {
            self.last_progress = Some(Instant::now());
            self.events.push(Event::Progress { stage, step, epoch, paused });
        }
    }

    /// Everything queued so far, oldest first.
    pub(crate) fn take(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }
}

/// The sending half of the native engine's event channel, applying the delivery rules above.
pub(crate) struct EventSink {
    sender: Sender<Event>,
    pending_metrics: Vec<MetricPoint>,
    pending_probe: Option<Box<Probe>>,
}

/// The listener hung up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Disconnected;

impl EventSink {
    pub(crate) fn new(sender: Sender<Event>) -> EventSink {
        EventSink { sender, pending_metrics: Vec::new(), pending_probe: None }
    }

    /// Hands one event on by the rule of its kind.
    pub(crate) fn deliver(&mut self, event: Event) -> Result<(), Disconnected> {
        match event {
            Event::Metrics(points) => self.metrics(points),
            Event::Probe(probe) => {
                self.pending_probe = Some(probe);
                self.try_flush_metrics()
            }
            tick @ Event::Progress { .. } => {
                self.try_flush_metrics()?;
                match self.sender.try_send(tick) {
                    Ok(()) | Err(TrySendError::Full(_)) => Ok(()),
                    Err(TrySendError::Disconnected(_)) => Err(Disconnected),
                }
            }
            event => self.send(event),
        }
    }

    /// Queues metric points and sends them if the channel has room.
    fn metrics(&mut self, points: Vec<MetricPoint>) -> Result<(), Disconnected> {
        self.pending_metrics.extend(points);
        self.try_flush_metrics()
    }

    /// Sends the queued metric points, then the waiting probe, as far as the channel has room.
    fn try_flush_metrics(&mut self) -> Result<(), Disconnected> {
        if !self.pending_metrics.is_empty() {
            let batch = std::mem::take(&mut self.pending_metrics);
            match self.sender.try_send(Event::Metrics(batch)) {
                Ok(()) => {}
                Err(TrySendError::Full(Event::Metrics(batch))) => {
                    self.pending_metrics = batch;
                    return Ok(());
                }
                Err(TrySendError::Full(_)) => return Ok(()),
                Err(TrySendError::Disconnected(_)) => return Err(Disconnected),
            }
        }
        let Some(probe) = self.pending_probe.take() else { return Ok(()) };
        match self.sender.try_send(Event::Probe(probe)) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(Event::Probe(probe))) => {
                self.pending_probe = Some(probe);
                Ok(())
            }
            Err(TrySendError::Full(_)) => Ok(()),
            Err(TrySendError::Disconnected(_)) => Err(Disconnected),
        }
    }

    /// Sends an event that must arrive, after any metric points still queued.
    pub(crate) fn send(&mut self, event: Event) -> Result<(), Disconnected> {
        if !self.pending_metrics.is_empty() {
            let batch = std::mem::take(&mut self.pending_metrics);
            self.sender.send(Event::Metrics(batch)).map_err(|_| Disconnected)?;
        }
        if let Some(probe) = self.pending_probe.take() {
            self.sender.send(Event::Probe(probe)).map_err(|_| Disconnected)?;
        }
        self.sender.send(event).map_err(|_| Disconnected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(step: u64) -> MetricPoint {
        MetricPoint { stage: 0, step, epoch: 1, metric: "loss".into(), value: 1.0, seconds: None }
    }

    #[test]
    fn a_slow_listener_gets_every_metric_in_order() {
        let (sender, receiver) = crossbeam_channel::bounded(1);
        let mut sink = EventSink::new(sender);
        for step in 0..10 {
            sink.deliver(Event::Metrics(vec![point(step)])).unwrap();
        }
        // Nothing has been read yet: the first batch filled the channel, the rest waited.
        let handle = std::thread::spawn(move || receiver.iter().collect::<Vec<_>>());
        sink.deliver(Event::Finished { cancelled: false }).unwrap();
        drop(sink);
        let mut steps = Vec::new();
        for event in handle.join().unwrap() {
            if let Event::Metrics(points) = event {
                steps.extend(points.iter().map(|p| p.step));
            }
        }
        assert_eq!(steps, (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn an_outbox_joins_adjacent_metric_points_and_keeps_the_order() {
        let mut outbox = Outbox::default();
        outbox.metrics(vec![point(1)]);
        outbox.metrics(vec![point(2)]);
        outbox.send(Event::Notice("between".into()));
        outbox.metrics(vec![point(3)]);
        let kinds: Vec<String> = outbox
            .take()
            .into_iter()
            .map(|e| match e {
                Event::Metrics(points) => format!("{:?}", points.iter().map(|p| p.step).collect::<Vec<_>>()),
                Event::Notice(text) => text,
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(kinds, ["[1, 2]", "between", "[3]"]);
        assert!(outbox.take().is_empty(), "taken events are gone");
    }
}
