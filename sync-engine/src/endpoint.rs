//! Where a sync connects, who may be connected to, and the three questions the datasource
//! API asks of a database: is it reachable ([`ping`]), which tables does it have
//! ([`tables`]), which columns does a table have ([`columns`]).
//!
//! Every connection goes through [`connect`], which first checks the host against the
//! [`AllowList`]: a datasource is a user-given host, and a Lambda function in a VPC could
//! otherwise be pointed at anything inside it. A host name is resolved once (with the same
//! time-out as the connection) and the connection goes to the resolved address that was
//! checked, so a second DNS answer cannot swap in another host. Failures are classified
//! ([`ConnectFailure`]) for the API's `ping`, and none of them carries the password.

use std::{fmt, net::IpAddr, str::FromStr, time::Duration};

use ipnet::IpNet;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sqlx::{
    ConnectOptions, Connection, Row,
    mysql::{MySqlConnectOptions, MySqlConnection, MySqlDatabaseError},
    postgres::{PgConnectOptions, PgConnection},
};
use tokio::time::{Instant, timeout};

/// The database kinds a datasource can be (`db_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DbKind {
    Mysql,
    Postgresql,
}

impl DbKind {
    /// Every kind, in the API's order.
    pub const ALL: [DbKind; 2] = [DbKind::Mysql, DbKind::Postgresql];

    /// The `db_type` spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            DbKind::Mysql => "mysql",
            DbKind::Postgresql => "postgresql",
        }
    }

    /// The server's usual port.
    pub fn default_port(self) -> u16 {
        match self {
            DbKind::Mysql => 3306,
            DbKind::Postgresql => 5432,
        }
    }

    /// The DataX reader plugin for this kind.
    pub fn reader_plugin(self) -> &'static str {
        match self {
            DbKind::Mysql => "mysqlreader",
            DbKind::Postgresql => "postgresqlreader",
        }
    }

    /// The DataX writer plugin for this kind.
    pub fn writer_plugin(self) -> &'static str {
        match self {
            DbKind::Mysql => "mysqlwriter",
            DbKind::Postgresql => "postgresqlwriter",
        }
    }
}

impl FromStr for DbKind {
    type Err = String;

    /// Case-insensitive; `postgres` and `pg` are accepted for `postgresql`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "mysql" => Ok(DbKind::Mysql),
            "postgresql" | "postgres" | "pg" => Ok(DbKind::Postgresql),
            other => Err(format!(
                "db_type {other:?} is not supported: mysql or postgresql"
            )),
        }
    }
}

impl fmt::Display for DbKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything needed to open a connection. `Debug` leaves the password out.
#[derive(Clone)]
pub struct Endpoint {
    pub kind: DbKind,
    pub host: String,
    pub port: u16,
    pub database: String,
    pub username: String,
    pub password: SecretString,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("kind", &self.kind)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("database", &self.database)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// `kind://host:port/database`, for logs and messages (no user, no password).
    pub fn describe(&self) -> String {
        format!(
            "{}://{}:{}/{}",
            self.kind, self.host, self.port, self.database
        )
    }
}

/// The hosts a sync may connect to: host names (exact, case-insensitive) and CIDR blocks
/// (an address is a /32 or /128). Empty allows nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList {
    names: Vec<String>,
    nets: Vec<IpNet>,
}

/// The setting that holds the allow-list.
pub const ALLOWED_HOSTS_VAR: &str = "SYNC_ALLOWED_HOSTS";

impl AllowList {
    /// Parses a comma-separated list such as `10.0.0.0/16, 127.0.0.1, db.internal`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut list = AllowList::default();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if let Ok(net) = entry.parse::<IpNet>() {
                list.nets.push(net);
            } else if let Ok(ip) = entry.parse::<IpAddr>() {
                list.nets.push(IpNet::from(ip));
            } else if entry.contains('/') || !is_host_name(entry) {
                return Err(format!(
                    "{ALLOWED_HOSTS_VAR} entry {entry:?} is neither a CIDR block, an address nor a host name"
                ));
            } else {
                list.names.push(entry.to_ascii_lowercase());
            }
        }
        Ok(list)
    }

    /// Loopback only (`127.0.0.0/8`, `::1`): what the tests and the demo use.
    pub fn loopback() -> Self {
        Self::parse("127.0.0.0/8,::1/128").expect("a valid list")
    }

    /// Whether nothing at all is allowed.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty() && self.nets.is_empty()
    }

    fn allows_name(&self, host: &str) -> bool {
        self.names.iter().any(|n| n.eq_ignore_ascii_case(host))
    }

    fn allows_ip(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        self.nets.iter().any(|net| net.contains(&ip))
    }

    /// The address (or the allowed name itself) to connect to for `host`, or why not.
    pub async fn admit(
        &self,
        host: &str,
        port: u16,
        wait: Duration,
    ) -> Result<String, ConnectFailure> {
        let host = host.trim().trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = host.parse::<IpAddr>() {
            return if self.allows_ip(ip) {
                Ok(ip.to_string())
            } else {
                Err(ConnectFailure::NotAllowed {
                    host: host.to_owned(),
                })
            };
        }
        if self.allows_name(host) {
            return Ok(host.to_owned());
        }
        if self.nets.is_empty() {
            return Err(ConnectFailure::NotAllowed {
                host: host.to_owned(),
            });
        }
        let addresses = match timeout(wait, tokio::net::lookup_host((host, port))).await {
            Err(_) => return Err(ConnectFailure::Timeout { after: wait }),
            Ok(Err(error)) => {
                return Err(ConnectFailure::Unreachable(format!(
                    "host {host} does not resolve: {error}"
                )));
            }
            Ok(Ok(addresses)) => addresses.map(|a| a.ip()).collect::<Vec<_>>(),
        };
        addresses
            .into_iter()
            .find(|ip| self.allows_ip(*ip))
            .map(|ip| ip.to_string())
            .ok_or_else(|| ConnectFailure::NotAllowed {
                host: host.to_owned(),
            })
    }
}

fn is_host_name(text: &str) -> bool {
    text.len() <= 253
        && text.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// Why a connection could not be opened, in the classes `ping` answers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectFailure {
    #[error("host {host} is not in the allow-list ({ALLOWED_HOSTS_VAR})")]
    NotAllowed { host: String },
    #[error("unreachable: {0}")]
    Unreachable(String),
    #[error("no answer within {}s", after.as_secs_f64())]
    Timeout { after: Duration },
    #[error("authentication failed: {0}")]
    AuthenticationFailed(String),
    #[error("unknown database: {0}")]
    UnknownDatabase(String),
    #[error("{0}")]
    Other(String),
}

impl ConnectFailure {
    /// The class, as the API answers it.
    pub fn reason(&self) -> &'static str {
        match self {
            ConnectFailure::NotAllowed { .. } => "not_allowed",
            ConnectFailure::Unreachable(_) => "unreachable",
            ConnectFailure::Timeout { .. } => "timeout",
            ConnectFailure::AuthenticationFailed(_) => "authentication_failed",
            ConnectFailure::UnknownDatabase(_) => "unknown_database",
            ConnectFailure::Other(_) => "other",
        }
    }

    /// Classifies a connection error of either driver.
    pub fn classify(error: &sqlx::Error) -> Self {
        match error {
            sqlx::Error::Io(io) => ConnectFailure::Unreachable(io.to_string()),
            sqlx::Error::Database(db) => {
                let message = db.message().to_owned();
                if let Some(mysql) = db.try_downcast_ref::<MySqlDatabaseError>() {
                    return match mysql.number() {
                        1045 | 1044 | 1698 => ConnectFailure::AuthenticationFailed(message),
                        1049 => ConnectFailure::UnknownDatabase(message),
                        _ => ConnectFailure::Other(message),
                    };
                }
                match db.code().as_deref() {
                    Some("28P01" | "28000") => ConnectFailure::AuthenticationFailed(message),
                    Some("3D000") => ConnectFailure::UnknownDatabase(message),
                    _ => ConnectFailure::Other(message),
                }
            }
            other => ConnectFailure::Other(other.to_string()),
        }
    }
}

/// An open connection of either kind.
pub enum Conn {
    Mysql(MySqlConnection),
    Postgresql(PgConnection),
}

/// Opens a connection to `endpoint` if the allow-list admits its host, within `wait`.
pub async fn connect(
    endpoint: &Endpoint,
    allow: &AllowList,
    wait: Duration,
) -> Result<Conn, ConnectFailure> {
    let started = Instant::now();
    let host = allow.admit(&endpoint.host, endpoint.port, wait).await?;
    let left = wait.saturating_sub(started.elapsed());
    let opened = match endpoint.kind {
        DbKind::Mysql => {
            let mut options = MySqlConnectOptions::new()
                .host(&host)
                .port(endpoint.port)
                .username(&endpoint.username)
                .database(&endpoint.database)
                .charset("utf8mb4")
                .log_statements(tracing::log::LevelFilter::Off);
            // An empty password is no password: MySQL tells "using password: YES" apart.
            if !endpoint.password.expose_secret().is_empty() {
                options = options.password(endpoint.password.expose_secret());
            }
            timeout(left, options.connect())
                .await
                .map(|r| r.map(Conn::Mysql))
        }
        DbKind::Postgresql => {
            let mut options = PgConnectOptions::new()
                .host(&host)
                .port(endpoint.port)
                .username(&endpoint.username)
                .database(&endpoint.database)
                .application_name("sync-engine")
                .log_statements(tracing::log::LevelFilter::Off);
            if !endpoint.password.expose_secret().is_empty() {
                options = options.password(endpoint.password.expose_secret());
            }
            timeout(left, options.connect())
                .await
                .map(|r| r.map(Conn::Postgresql))
        }
    };
    match opened {
        Err(_) => Err(ConnectFailure::Timeout { after: wait }),
        Ok(Err(error)) => Err(ConnectFailure::classify(&error)),
        Ok(Ok(conn)) => Ok(conn),
    }
}

/// What a successful `ping` learnt.
#[derive(Debug, Clone, Serialize)]
pub struct PingReport {
    pub server_version: String,
    /// Connection set-up plus one round trip.
    pub latency_ms: u64,
}

/// Connects, asks the server's version, and closes.
pub async fn ping(
    endpoint: &Endpoint,
    allow: &AllowList,
    wait: Duration,
) -> Result<PingReport, ConnectFailure> {
    let started = Instant::now();
    let conn = connect(endpoint, allow, wait).await?;
    let left = wait.saturating_sub(started.elapsed());
    let version = timeout(left, async {
        match conn {
            Conn::Mysql(mut c) => {
                let v: String = sqlx::query_scalar("SELECT VERSION()")
                    .fetch_one(&mut c)
                    .await?;
                let _ = c.close().await;
                Ok::<_, sqlx::Error>(v)
            }
            Conn::Postgresql(mut c) => {
                let v: String = sqlx::query_scalar("SHOW server_version")
                    .fetch_one(&mut c)
                    .await?;
                let _ = c.close().await;
                Ok(v)
            }
        }
    })
    .await
    .map_err(|_| ConnectFailure::Timeout { after: wait })?
    .map_err(|e| ConnectFailure::classify(&e))?;
    Ok(PingReport {
        server_version: version,
        latency_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    })
}

/// Why a catalogue question failed.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error(transparent)]
    Connect(#[from] ConnectFailure),
    #[error("reading the catalogue failed: {0}")]
    Query(String),
}

impl From<sqlx::Error> for CatalogError {
    fn from(error: sqlx::Error) -> Self {
        CatalogError::Query(error.to_string())
    }
}

/// One table (or view) of a datasource.
#[derive(Debug, Clone, Serialize)]
pub struct TableInfo {
    /// As a job names it: `table` for MySQL and for PostgreSQL's `public` schema,
    /// `schema.table` otherwise.
    pub name: String,
    /// `BASE TABLE` or `VIEW`.
    pub table_type: String,
}

/// The tables and views of the endpoint's database (PostgreSQL: every schema but the
/// system ones).
pub async fn tables(
    endpoint: &Endpoint,
    allow: &AllowList,
    wait: Duration,
) -> Result<Vec<TableInfo>, CatalogError> {
    let rows = match connect(endpoint, allow, wait).await? {
        Conn::Mysql(mut c) => sqlx::query(
            "SELECT CAST(TABLE_NAME AS CHAR), CAST(TABLE_TYPE AS CHAR) \
             FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() \
             ORDER BY TABLE_NAME",
        )
        .fetch_all(&mut c)
        .await?
        .iter()
        .map(|r| Ok((r.try_get::<String, _>(0)?, r.try_get::<String, _>(1)?)))
        .collect::<Result<Vec<_>, sqlx::Error>>()?,
        Conn::Postgresql(mut c) => sqlx::query(
            "SELECT CASE WHEN table_schema = 'public' THEN table_name::text \
                    ELSE table_schema::text || '.' || table_name::text END, table_type::text \
             FROM information_schema.tables \
             WHERE table_schema NOT IN ('pg_catalog', 'information_schema') \
             ORDER BY table_schema, table_name",
        )
        .fetch_all(&mut c)
        .await?
        .iter()
        .map(|r| Ok((r.try_get::<String, _>(0)?, r.try_get::<String, _>(1)?)))
        .collect::<Result<Vec<_>, sqlx::Error>>()?,
    };
    Ok(rows
        .into_iter()
        .map(|(name, table_type)| TableInfo { name, table_type })
        .collect())
}

/// One column of a table.
#[derive(Debug, Clone, Serialize)]
pub struct ColumnInfo {
    pub name: String,
    /// The type's name (`int`, `varchar`, `numeric`, …).
    pub data_type: String,
    /// The full type (`varchar(64)`, `decimal(12,2)`; PostgreSQL: its `udt_name`).
    pub column_type: String,
    pub nullable: bool,
    /// `PRI`, `UNI`, `MUL` (MySQL only) or empty, as MySQL's `COLUMN_KEY`.
    pub key: String,
}

/// The columns of `table` in ordinal order; empty when there is no such table. The table
/// name is a bound parameter.
pub async fn columns(
    endpoint: &Endpoint,
    allow: &AllowList,
    wait: Duration,
    table: &str,
) -> Result<Vec<ColumnInfo>, CatalogError> {
    let rows: Vec<(String, String, String, String, String)> =
        match connect(endpoint, allow, wait).await? {
            Conn::Mysql(mut c) => {
                sqlx::query_as(
                    "SELECT CAST(COLUMN_NAME AS CHAR), CAST(DATA_TYPE AS CHAR), \
                        CAST(COLUMN_TYPE AS CHAR), CAST(IS_NULLABLE AS CHAR), \
                        CAST(COLUMN_KEY AS CHAR) \
                 FROM information_schema.COLUMNS \
                 WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? \
                 ORDER BY ORDINAL_POSITION",
                )
                .bind(table)
                .fetch_all(&mut c)
                .await?
            }
            Conn::Postgresql(mut c) => {
                let (schema, name) = table.split_once('.').unwrap_or(("public", table));
                sqlx::query_as(
                    "SELECT c.column_name::text, c.data_type::text, c.udt_name::text, \
                            c.is_nullable::text, \
                            COALESCE((SELECT CASE tc.constraint_type WHEN 'PRIMARY KEY' THEN 'PRI' \
                                                ELSE 'UNI' END \
                                      FROM information_schema.key_column_usage k \
                                      JOIN information_schema.table_constraints tc \
                                        ON tc.constraint_schema = k.constraint_schema \
                                       AND tc.constraint_name = k.constraint_name \
                                      WHERE k.table_schema = c.table_schema \
                                        AND k.table_name = c.table_name \
                                        AND k.column_name = c.column_name \
                                        AND tc.constraint_type IN ('PRIMARY KEY', 'UNIQUE') \
                                      ORDER BY tc.constraint_type LIMIT 1), '') \
                     FROM information_schema.columns c \
                     WHERE c.table_schema = $1 AND c.table_name = $2 \
                     ORDER BY c.ordinal_position",
                )
                .bind(schema)
                .bind(name)
                .fetch_all(&mut c)
                .await?
            }
        };
    Ok(rows
        .into_iter()
        .map(|(name, data_type, column_type, nullable, key)| ColumnInfo {
            name,
            data_type,
            column_type,
            nullable: nullable.eq_ignore_ascii_case("YES"),
            key,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_list_parses_names_addresses_and_blocks() {
        let list = AllowList::parse("10.0.0.0/16, 127.0.0.1 ,db.internal,::1").expect("parses");
        assert!(list.allows_ip("10.0.3.4".parse().expect("ip")));
        assert!(!list.allows_ip("10.1.0.1".parse().expect("ip")));
        assert!(list.allows_ip("::ffff:127.0.0.1".parse().expect("ip")));
        assert!(list.allows_name("DB.internal"));
        assert!(AllowList::parse("").expect("empty").is_empty());
        assert!(AllowList::parse("10.0.0.0/33").is_err());
        assert!(AllowList::parse("bad host!").is_err());
    }

    #[tokio::test]
    async fn admits_loopback_and_refuses_other_addresses_without_dns() {
        let list = AllowList::loopback();
        let wait = Duration::from_secs(1);
        assert_eq!(
            list.admit("127.0.0.1", 1, wait).await,
            Ok("127.0.0.1".into())
        );
        assert_eq!(list.admit("[::1]", 1, wait).await, Ok("::1".into()));
        let refused = list.admit("169.254.169.254", 80, wait).await;
        assert_eq!(
            refused.expect_err("metadata address").reason(),
            "not_allowed"
        );
        // A name not listed, with no CIDR that could hold it, is refused before any look-up.
        let names_only = AllowList::parse("db.internal").expect("parses");
        let refused = names_only.admit("elsewhere.example", 80, wait).await;
        assert_eq!(refused.expect_err("unlisted name").reason(), "not_allowed");
    }

    #[test]
    fn endpoint_debug_leaves_the_password_out() {
        let endpoint = Endpoint {
            kind: DbKind::Mysql,
            host: "h".into(),
            port: 3306,
            database: "d".into(),
            username: "u".into(),
            password: SecretString::from("s3cret-pw"),
        };
        assert!(!format!("{endpoint:?}").contains("s3cret"));
        assert_eq!(endpoint.describe(), "mysql://h:3306/d");
    }
}
