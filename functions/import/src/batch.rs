//! Statements gathered for bounded multi-row inserts.
//!
//! A batch keeps every statement copy the parser accepted, in archive order, with its
//! place in the archive: whether a copy is new, an exact repeat or a conflicting copy of a
//! stored statement id is decided by the writer against the database (see `store.rs`),
//! because only the database knows what earlier files and earlier batches stored.
//! Dimension rows (actor, action, cookie, tanet) are carried once per batch.

use std::{collections::HashSet, sync::Arc};

use chrono::{NaiveDate, NaiveDateTime};

use crate::{
    archive::Location,
    statement::{
        ActionRow, ActorRow, CookieRow, EventInfoRow, Normalised, ResultRow, SentenceRow, TanetRow,
        VideoRow,
    },
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
    pub content_hash: [u8; 16],
}

/// A statement's fact rows and where it was read.
#[derive(Debug, Clone)]
pub struct StatementRows {
    pub event: EventRow,
    pub info: EventInfoRow,
    pub result: Option<ResultRow>,
    pub video: Option<VideoRow>,
    pub sentences: Vec<SentenceRow>,
    pub location: Location,
    /// Position of the statement in the archive, to list rejections in archive order.
    pub ordinal: u64,
}

/// The rows of up to `capacity` statements.
#[derive(Debug, Default)]
pub struct Batch {
    pub statements: Vec<StatementRows>,
    pub actors: Vec<ActorRow>,
    pub actions: Vec<ActionRow>,
    pub cookies: Vec<CookieRow>,
    pub tanets: Vec<TanetRow>,
}

/// Fills batches from normalised statements.
#[derive(Debug)]
pub struct Batcher {
    capacity: usize,
    current: Batch,
    /// Dimension ids already in the current batch.
    dimensions: HashSet<u64, foldhash::fast::RandomState>,
}

impl Batcher {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            current: Batch::default(),
            dimensions: HashSet::default(),
        }
    }

    /// Adds a statement read at `location` of `entry_name`; returns a full batch when one
    /// is ready.
    pub fn push(
        &mut self,
        statement: Normalised,
        entry_name: &Arc<str>,
        location: Location,
        ordinal: u64,
    ) -> Option<Batch> {
        let b = &mut self.current;
        let event = EventRow {
            statement_id: statement.statement_id,
            entry_name: Arc::clone(entry_name),
            log_date: statement.log_date,
            event_time: statement.event_time,
            actor_id: statement.actor.id,
            action_id: statement.action.id,
            cookie_id: statement.cookie.as_ref().map(|c| c.id),
            tanet_info_id: statement.tanet.as_ref().map(|t| t.id),
            content_hash: statement.content_hash,
        };
        // Dimension ids are hashes of different key sets; a clash between two tables is as
        // unlikely as one within a table, and would only cost a redundant row check.
        if self.dimensions.insert(statement.actor.id) {
            b.actors.push(statement.actor);
        }
        if self.dimensions.insert(statement.action.id) {
            b.actions.push(statement.action);
        }
        if let Some(cookie) = statement.cookie
            && self.dimensions.insert(cookie.id)
        {
            b.cookies.push(cookie);
        }
        if let Some(tanet) = statement.tanet
            && self.dimensions.insert(tanet.id)
        {
            b.tanets.push(tanet);
        }
        b.statements.push(StatementRows {
            event,
            info: statement.event_info,
            result: statement.result,
            video: statement.video,
            sentences: statement.sentences,
            location,
            ordinal,
        });
        (b.statements.len() >= self.capacity).then(|| self.take())
    }

    /// The partly filled batch, if it has anything.
    pub fn finish(&mut self) -> Option<Batch> {
        (!self.current.statements.is_empty()).then(|| self.take())
    }

    fn take(&mut self) -> Batch {
        self.dimensions.clear();
        std::mem::take(&mut self.current)
    }
}
