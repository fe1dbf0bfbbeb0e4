//! Rows of many statements gathered for bounded multi-row inserts.
//!
//! Dimension rows are de-duplicated in memory by their natural-key id, so a batch carries
//! each actor or action once, and a bounded "already sent" set spares the database rows it
//! has just seen (the `INSERT IGNORE` on the primary key is the final guard).

use std::{collections::HashSet, sync::Arc};

use chrono::{NaiveDate, NaiveDateTime};

use crate::statement::{
    ActionRow, ActorRow, CookieRow, EventInfoRow, Normalised, ResultRow, SentenceRow, TanetRow,
    VideoRow,
};

/// One `client_event` row.
#[derive(Debug, Clone)]
pub struct EventRow {
    pub statement_id: String,
    pub entry_name: Arc<str>,
    pub log_date: NaiveDate,
    pub event_time: NaiveDateTime,
    pub actor_id: u64,
    pub action_id: u64,
    pub cookie_id: Option<u64>,
    pub tanet_info_id: Option<u64>,
}

/// The rows of up to `capacity` statements.
#[derive(Debug, Default)]
pub struct Batch {
    pub events: Vec<EventRow>,
    pub actors: Vec<ActorRow>,
    pub actions: Vec<ActionRow>,
    pub cookies: Vec<CookieRow>,
    pub tanets: Vec<TanetRow>,
    pub infos: Vec<(String, EventInfoRow)>,
    pub results: Vec<(String, ResultRow)>,
    pub videos: Vec<(String, VideoRow)>,
    pub sentences: Vec<(String, SentenceRow)>,
}

impl Batch {
    pub fn statements(&self) -> usize {
        self.events.len()
    }
}

/// Ids of dimension rows already handed to the writer during this import. Bounded: when a
/// set grows past its limit it is cleared, which costs only some redundant (ignored) rows.
#[derive(Debug)]
struct SeenIds {
    ids: HashSet<u64>,
    limit: usize,
}

impl SeenIds {
    fn new(limit: usize) -> Self {
        Self {
            ids: HashSet::with_capacity(limit.min(4096)),
            limit,
        }
    }

    /// True when `id` is new (and remembers it).
    fn first_time(&mut self, id: u64) -> bool {
        if self.ids.len() >= self.limit {
            self.ids.clear();
        }
        self.ids.insert(id)
    }
}

/// Fills batches from normalised statements.
#[derive(Debug)]
pub struct Batcher {
    capacity: usize,
    current: Batch,
    actors: SeenIds,
    actions: SeenIds,
    cookies: SeenIds,
    tanets: SeenIds,
    statements_in_batch: HashSet<String>,
}

/// How many ids each dimension remembers (8 bytes each, so at most a few MB).
const SEEN_LIMIT: usize = 200_000;

impl Batcher {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            current: Batch::default(),
            actors: SeenIds::new(SEEN_LIMIT),
            actions: SeenIds::new(SEEN_LIMIT),
            cookies: SeenIds::new(SEEN_LIMIT),
            tanets: SeenIds::new(SEEN_LIMIT),
            statements_in_batch: HashSet::new(),
        }
    }

    /// Adds a statement; returns a full batch when one is ready. A statement whose id is
    /// already in the current batch is dropped and reported as `false` (it would be an
    /// "already present" row anyway).
    pub fn push(&mut self, statement: Normalised, entry_name: &Arc<str>) -> (bool, Option<Batch>) {
        if !self
            .statements_in_batch
            .insert(statement.statement_id.clone())
        {
            return (false, None);
        }
        let b = &mut self.current;
        let id = statement.statement_id;
        b.events.push(EventRow {
            statement_id: id.clone(),
            entry_name: Arc::clone(entry_name),
            log_date: statement.log_date,
            event_time: statement.event_time,
            actor_id: statement.actor.id,
            action_id: statement.action.id,
            cookie_id: statement.cookie.as_ref().map(|c| c.id),
            tanet_info_id: statement.tanet.as_ref().map(|t| t.id),
        });
        if self.actors.first_time(statement.actor.id) {
            b.actors.push(statement.actor);
        }
        if self.actions.first_time(statement.action.id) {
            b.actions.push(statement.action);
        }
        if let Some(cookie) = statement.cookie
            && self.cookies.first_time(cookie.id)
        {
            b.cookies.push(cookie);
        }
        if let Some(tanet) = statement.tanet
            && self.tanets.first_time(tanet.id)
        {
            b.tanets.push(tanet);
        }
        if let Some(result) = statement.result {
            b.results.push((id.clone(), result));
        }
        if let Some(video) = statement.video {
            b.videos.push((id.clone(), video));
        }
        for sentence in statement.sentences {
            b.sentences.push((id.clone(), sentence));
        }
        b.infos.push((id, statement.event_info));
        let full = (b.statements() >= self.capacity).then(|| self.take());
        (true, full)
    }

    /// The partly filled batch, if it has anything.
    pub fn finish(&mut self) -> Option<Batch> {
        (self.current.statements() > 0).then(|| self.take())
    }

    fn take(&mut self) -> Batch {
        self.statements_in_batch.clear();
        std::mem::take(&mut self.current)
    }
}
