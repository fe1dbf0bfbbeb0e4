//! The live ads, cached per execution environment: what the public routes answer from.
//!
//! One query loads every enabled style not yet taken down (including those whose `up_time`
//! is still ahead, so they go live at read time without a reload) with its image and codes.
//! The snapshot is kept for `AD_CACHE_SECS`; `ad_style`, `show` and `click` read it, so the
//! public hot path reads the database at most once per window and execution environment,
//! whatever the burst (concurrent misses wait for one load). An unknown code is answered
//! from the snapshot too: a flood of made-up codes cannot become a flood of queries. The
//! price is that an admin change (a new style, a disabled one) reaches every environment
//! within one window, not at once.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use chrono::NaiveDateTime;
use serde::Serialize;
use sqlx::{FromRow, MySqlPool};
use utoipa::ToSchema;

/// Which devices a style is shown on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Device {
    All,
    Pc,
    Mobile,
}

impl Device {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Pc => "pc",
            Self::Mobile => "mobile",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "all" => Some(Self::All),
            "pc" => Some(Self::Pc),
            "mobile" => Some(Self::Mobile),
            _ => None,
        }
    }
}

/// One style as the public routes see it.
#[derive(Debug, Clone, FromRow)]
pub struct LiveAd {
    pub style_id: u64,
    pub system: String,
    pub image_name: String,
    pub image_url: String,
    pub link_url: String,
    pub weight: u32,
    pub device: String,
    pub up_time: Option<NaiveDateTime>,
    pub down_time: Option<NaiveDateTime>,
    pub show_code: String,
    pub click_code: String,
}

impl LiveAd {
    /// Live at `now` (UTC): `up_time` ≤ now < `down_time`, either bound optional.
    pub fn is_live(&self, now: NaiveDateTime) -> bool {
        self.up_time.is_none_or(|up| up <= now) && self.down_time.is_none_or(|down| now < down)
    }

    /// Shown on `device` (`None`: any).
    pub fn shown_on(&self, device: Option<Device>) -> bool {
        match device {
            None | Some(Device::All) => true,
            Some(d) => self.device == "all" || self.device == d.as_str(),
        }
    }
}

/// The ads of one load.
#[derive(Debug)]
pub struct Snapshot {
    loaded_at: Instant,
    by_system: HashMap<String, Vec<Arc<LiveAd>>>,
    by_show_code: HashMap<String, Arc<LiveAd>>,
    by_click_code: HashMap<String, Arc<LiveAd>>,
}

impl Snapshot {
    fn new(ads: Vec<LiveAd>) -> Self {
        let mut snapshot = Self {
            loaded_at: Instant::now(),
            by_system: HashMap::new(),
            by_show_code: HashMap::new(),
            by_click_code: HashMap::new(),
        };
        for ad in ads {
            let ad = Arc::new(ad);
            snapshot
                .by_system
                .entry(ad.system.clone())
                .or_default()
                .push(ad.clone());
            snapshot
                .by_show_code
                .insert(ad.show_code.clone(), ad.clone());
            snapshot.by_click_code.insert(ad.click_code.clone(), ad);
        }
        snapshot
    }

    /// The ads of `system` (live or not yet up), heaviest first.
    pub fn of_system(&self, system: &str) -> &[Arc<LiveAd>] {
        self.by_system.get(system).map_or(&[], Vec::as_slice)
    }

    pub fn by_show_code(&self, code: &str) -> Option<&Arc<LiveAd>> {
        self.by_show_code.get(code)
    }

    pub fn by_click_code(&self, code: &str) -> Option<&Arc<LiveAd>> {
        self.by_click_code.get(code)
    }
}

/// The cache: one snapshot at a time, reloaded when older than the TTL.
#[derive(Debug)]
pub struct Catalog {
    pool: MySqlPool,
    ttl: Duration,
    current: RwLock<Option<Arc<Snapshot>>>,
    loading: tokio::sync::Mutex<()>,
    loads: std::sync::atomic::AtomicU64,
}

impl Catalog {
    pub fn new(pool: MySqlPool, ttl: Duration) -> Self {
        Self {
            pool,
            ttl,
            current: RwLock::new(None),
            loading: tokio::sync::Mutex::new(()),
            loads: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Database loads so far (tests check the hot path's query budget with it).
    pub fn loads(&self) -> u64 {
        self.loads.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A snapshot no older than the TTL, and how long it stays fresh.
    ///
    /// # Errors
    /// The database error of a load.
    pub async fn snapshot(&self) -> Result<(Arc<Snapshot>, Duration), sqlx::Error> {
        if let Some(fresh) = self.fresh() {
            return Ok(fresh);
        }
        let _one_load = self.loading.lock().await;
        if let Some(fresh) = self.fresh() {
            return Ok(fresh);
        }
        let ads: Vec<LiveAd> = sqlx::query_as(
            "SELECT s.id AS style_id, s.`system`, i.image_name, i.image_url, s.link_url, s.weight,
                    CAST(s.device AS CHAR) AS device, s.up_time, s.down_time, s.show_code, s.click_code
             FROM ad_style s JOIN ad_image i ON i.id = s.image_id
             WHERE s.enabled = 1 AND (s.down_time IS NULL OR s.down_time > ?)
             ORDER BY s.weight DESC, s.id",
        )
        .bind(chrono::Utc::now().naive_utc())
        .fetch_all(&self.pool)
        .await?;
        self.loads
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let snapshot = Arc::new(Snapshot::new(ads));
        if let Ok(mut current) = self.current.write() {
            *current = Some(snapshot.clone());
        }
        Ok((snapshot, self.ttl))
    }

    fn fresh(&self) -> Option<(Arc<Snapshot>, Duration)> {
        let current = self.current.read().ok()?;
        let snapshot = current.as_ref()?;
        let age = snapshot.loaded_at.elapsed();
        (age < self.ttl).then(|| (snapshot.clone(), self.ttl - age))
    }

    /// Drops the snapshot (the admin routes call it after a change, so the environment that
    /// made the change sees it at once; the others within one window).
    pub fn invalidate(&self) {
        if let Ok(mut current) = self.current.write() {
            *current = None;
        }
    }
}
