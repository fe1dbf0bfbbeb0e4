//! DataX's `jdbcUrl`s: `jdbc:mysql://host[:port]/database[?…]` and
//! `jdbc:postgresql://host[:port]/database[?…]`, parsed into the parts a connection needs.
//!
//! Query parameters are JDBC driver options (`useUnicode`, `characterEncoding`, `useSSL`,
//! …) that have no meaning to sqlx; they are ignored, except `user` and `password`, which
//! are refused so that a credential never hides inside a URL (they belong in `username` /
//! `password`, where the platform encrypts them).

use std::fmt;

use percent_encoding::percent_decode_str;

use crate::endpoint::DbKind;

/// A parsed `jdbcUrl`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JdbcUrl {
    pub kind: DbKind,
    pub host: String,
    pub port: u16,
    pub database: String,
}

/// Why a `jdbcUrl` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct JdbcUrlError(String);

impl JdbcUrl {
    /// Parses `text`; the scheme decides the database kind.
    pub fn parse(text: &str) -> Result<Self, JdbcUrlError> {
        let text = text.trim();
        let (kind, rest) = if let Some(rest) = text.strip_prefix("jdbc:mysql://") {
            (DbKind::Mysql, rest)
        } else if let Some(rest) = text.strip_prefix("jdbc:postgresql://") {
            (DbKind::Postgresql, rest)
        } else {
            return Err(JdbcUrlError(
                "a jdbcUrl starts with jdbc:mysql:// or jdbc:postgresql://".into(),
            ));
        };
        let (authority, path_and_query) = rest.split_once('/').unwrap_or((rest, ""));
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        if authority.contains('@') {
            return Err(JdbcUrlError(
                "credentials do not belong in a jdbcUrl: use username and password".into(),
            ));
        }
        let (host, port) = split_host_port(authority, kind.default_port())?;
        let database = percent_decode_str(path)
            .decode_utf8()
            .map_err(|_| JdbcUrlError("the database name is not UTF-8".into()))?
            .into_owned();
        if database.is_empty() || database.contains('/') {
            return Err(JdbcUrlError(
                "a jdbcUrl names one database after the host: jdbc:…://host:port/database".into(),
            ));
        }
        for pair in query.split(['&', ';']).filter(|p| !p.is_empty()) {
            let key = pair.split_once('=').map_or(pair, |(k, _)| k);
            if key.eq_ignore_ascii_case("password") || key.eq_ignore_ascii_case("user") {
                return Err(JdbcUrlError(format!(
                    "the jdbcUrl parameter {key} is refused: credentials belong in username and password"
                )));
            }
        }
        Ok(Self {
            kind,
            host,
            port,
            database,
        })
    }
}

fn split_host_port(authority: &str, default_port: u16) -> Result<(String, u16), JdbcUrlError> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        // An IPv6 literal: [::1]:5432
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| JdbcUrlError("an IPv6 host needs its closing ]".into()))?;
        (host, after.strip_prefix(':'))
    } else if authority.contains(',') {
        return Err(JdbcUrlError(
            "several hosts in one jdbcUrl (failover lists) are not supported: list one jdbcUrl per host"
                .into(),
        ));
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(JdbcUrlError("the jdbcUrl has no host".into()));
    }
    let port =
        match port {
            None | Some("") => default_port,
            Some(port) => port.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
                JdbcUrlError(format!("port {port:?} is not a number in 1..65535"))
            })?,
        };
    Ok((host.to_owned(), port))
}

impl fmt::Display for JdbcUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        write!(
            f,
            "jdbc:{}://{host}:{}/{}",
            self.kind.as_str(),
            self.port,
            self.database
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_originals_urls_and_defaults_the_port() {
        let url = JdbcUrl::parse("jdbc:mysql://120.77.176.193:3306/redwars").expect("parses");
        assert_eq!(
            (url.kind, url.host.as_str(), url.port, url.database.as_str()),
            (DbKind::Mysql, "120.77.176.193", 3306, "redwars")
        );
        let url = JdbcUrl::parse("jdbc:postgresql://db.internal/pdcy?ssl=true").expect("parses");
        assert_eq!((url.port, url.database.as_str()), (5432, "pdcy"));
        let url = JdbcUrl::parse("jdbc:postgresql://[::1]:2345/postgres").expect("parses");
        assert_eq!((url.host.as_str(), url.port), ("::1", 2345));
        assert_eq!(url.to_string(), "jdbc:postgresql://[::1]:2345/postgres");
        let url = JdbcUrl::parse(
            "jdbc:mysql://h:3306/d?useUnicode=true&characterEncoding=utf8&useSSL=false",
        )
        .expect("driver options are ignored");
        assert_eq!(url.database, "d");
    }

    #[test]
    fn refuses_other_schemes_credentials_and_bad_ports() {
        for (text, needle) in [
            ("jdbc:oracle:thin:@h:1521:x", "starts with"),
            ("jdbc:mysql://root:pw@h/d", "credentials"),
            ("jdbc:mysql://h/d?password=x", "password"),
            ("jdbc:mysql://h:0/d", "port"),
            ("jdbc:mysql://h:99999/d", "port"),
            ("jdbc:mysql://h:3306", "one database"),
            ("jdbc:mysql://a,b/d", "several hosts"),
            ("jdbc:mysql:///d", "no host"),
        ] {
            let error = JdbcUrl::parse(text).expect_err(text);
            assert!(error.to_string().contains(needle), "{text}: {error}");
        }
    }
}
