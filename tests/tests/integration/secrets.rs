//! Database credentials from Secrets Manager (moto) surviving a password rotation on the
//! real server: the pool re-reads the secret once on MySQL error 1045 and connects again.

use common::{
    config::DatabaseSettings,
    db::{self, Database},
    secrets::{Secret, SecretSource},
};
use sqlx::{Connection, Executor, MySqlConnection, mysql::MySqlConnectOptions};

use crate::support::{database_url, sdk_config};

/// A MySQL user of its own, with a password that the test rotates; dropped afterwards.
struct RotatingUser {
    admin: MySqlConnection,
    name: String,
}

impl RotatingUser {
    async fn create(password: &str) -> Self {
        let admin_options: MySqlConnectOptions =
            database_url().parse().expect("DATABASE_URL parses");
        let mut admin = MySqlConnection::connect_with(&admin_options.database(""))
            .await
            .expect("admin connection");
        let name = format!(
            "it_sec_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        admin
            .execute(sqlx::AssertSqlSafe(format!(
                "CREATE USER '{name}'@'%' IDENTIFIED BY '{password}'"
            )))
            .await
            .expect("create user");
        Self { admin, name }
    }

    async fn set_password(&mut self, password: &str) {
        let name = &self.name;
        self.admin
            .execute(sqlx::AssertSqlSafe(format!(
                "ALTER USER '{name}'@'%' IDENTIFIED BY '{password}'"
            )))
            .await
            .expect("alter user");
    }

    /// Ends every session of the user, as a restart of the database or an idle cut would:
    /// the pool then has to log in again.
    async fn kill_sessions(&mut self) -> usize {
        let ids: Vec<u64> = sqlx::query_scalar(
            "SELECT CAST(id AS UNSIGNED) FROM information_schema.processlist WHERE user = ?",
        )
        .bind(&self.name)
        .fetch_all(&mut self.admin)
        .await
        .expect("list sessions");
        for id in &ids {
            // A session may end on its own meanwhile; the point is that none is left.
            let _killed = self
                .admin
                .execute(sqlx::AssertSqlSafe(format!("KILL CONNECTION {id}")))
                .await;
        }
        ids.len()
    }

    async fn drop_user(mut self) {
        let name = &self.name;
        self.admin
            .execute(sqlx::AssertSqlSafe(format!(
                "DROP USER IF EXISTS '{name}'@'%'"
            )))
            .await
            .expect("drop user");
    }
}

/// Settings for `user` on the test server, with no password: only the secret has it.
fn settings_for(user: &str, secret_arn: &str) -> DatabaseSettings {
    let server: MySqlConnectOptions = database_url().parse().expect("DATABASE_URL parses");
    let url = format!("mysql://{user}@{}:{}", server.get_host(), server.get_port());
    DatabaseSettings::from_url(&secrecy::SecretString::from(url), 2)
        .expect("URL parses")
        .with_secret_arn(Some(secret_arn.to_owned()))
}

fn rds_secret(user: &str, password: &str) -> String {
    serde_json::json!({
        "engine": "mysql",
        "host": "ignored.example",
        "port": 3306,
        "username": user,
        "password": password,
    })
    .to_string()
}

async fn current_user(database: &Database) -> Result<String, sqlx::Error> {
    sqlx::query_scalar("SELECT CURRENT_USER()")
        .fetch_one(database.pool())
        .await
}

#[tokio::test]
async fn a_rotated_password_is_re_read_once_and_the_next_query_succeeds() {
    let sdk = sdk_config().await;
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    let mut user = RotatingUser::create("Password-A-1").await;
    let created = secrets
        .create_secret()
        .name(format!("it/db/{}", user.name))
        .secret_string(rds_secret(&user.name, "Password-A-1"))
        .send()
        .await
        .expect("create secret on moto");
    let arn = created.arn().expect("moto answers the ARN").to_owned();

    let settings = settings_for(&user.name, &arn);
    let database = Database::lazy(&settings, &sdk)
        .await
        .expect("the secret is read at start-up");
    assert_eq!(database.secret_reads(), 1);
    let who = current_user(&database).await.expect("password A works");
    assert!(who.starts_with(&format!("{}@", user.name)), "{who}");

    // Rotation, as the RDS rotation function does it: the server first, then the secret.
    user.set_password("Password-B-2").await;
    secrets
        .put_secret_value()
        .secret_id(&arn)
        .secret_string(rds_secret(&user.name, "Password-B-2"))
        .send()
        .await
        .expect("put the new version");
    assert!(user.kill_sessions().await >= 1, "the pool had a session");

    // Without a refresh the pool logs in with A: 1045. That error triggers one re-read.
    let refused = current_user(&database)
        .await
        .expect_err("the old password is refused");
    assert!(db::is_auth_failure(&refused), "{refused}");
    assert!(database.refresh_on_auth_failure(&refused).await);
    assert_eq!(database.secret_reads(), 2, "one re-read");
    let who = current_user(&database).await.expect("password B works");
    assert!(who.starts_with(&format!("{}@", user.name)), "{who}");

    // A second rotation through the helper: the first run fails, one re-read, one retry.
    user.set_password("Password-C-3").await;
    secrets
        .put_secret_value()
        .secret_id(&arn)
        .secret_string(rds_secret(&user.name, "Password-C-3"))
        .send()
        .await
        .expect("put the next version");
    user.kill_sessions().await;
    let mut runs = 0;
    let who = database
        .retry_once_on_auth_failure(|| {
            runs += 1;
            current_user(&database)
        })
        .await
        .expect("the retry after the re-read succeeds");
    assert!(who.starts_with(&format!("{}@", user.name)), "{who}");
    assert_eq!((runs, database.secret_reads()), (2, 3));

    // The password changed but the secret did not (a broken rotation): one re-read, one
    // retry, then the error; no loop.
    user.set_password("Password-D-4").await;
    user.kill_sessions().await;
    let mut runs = 0;
    let error = database
        .retry_once_on_auth_failure(|| {
            runs += 1;
            current_user(&database)
        })
        .await
        .expect_err("the secret still holds C");
    assert!(db::is_auth_failure(&error), "{error}");
    assert_eq!((runs, database.secret_reads()), (2, 4));

    database.pool().close().await;
    user.drop_user().await;
    secrets
        .delete_secret()
        .secret_id(&arn)
        .force_delete_without_recovery(true)
        .send()
        .await
        .expect("delete secret");
}

#[tokio::test]
async fn concurrent_failures_share_one_re_read() {
    let sdk = sdk_config().await;
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    let mut user = RotatingUser::create("Password-A-1").await;
    let arn = secrets
        .create_secret()
        .name(format!("it/db/{}", user.name))
        .secret_string(rds_secret(&user.name, "Password-A-1"))
        .send()
        .await
        .expect("create secret on moto")
        .arn()
        .expect("moto answers the ARN")
        .to_owned();
    let source = SecretSource::SecretsManager {
        arn: arn.clone(),
        json_key: None,
    };
    let database =
        Database::lazy_with_secret(&settings_for(&user.name, &arn), Secret::new(source, &sdk))
            .await
            .expect("the secret is read at start-up");
    current_user(&database).await.expect("password A works");

    user.set_password("Password-B-2").await;
    secrets
        .put_secret_value()
        .secret_id(&arn)
        .secret_string(rds_secret(&user.name, "Password-B-2"))
        .send()
        .await
        .expect("put the new version");
    user.kill_sessions().await;

    // Two tasks see the old password fail; the secret is re-read once for both.
    let (a, b) = tokio::join!(current_user(&database), current_user(&database));
    let a = a.expect_err("old password");
    let b = b.expect_err("old password");
    let (refreshed_a, refreshed_b) = tokio::join!(
        database.refresh_on_auth_failure(&a),
        database.refresh_on_auth_failure(&b)
    );
    assert!(refreshed_a && refreshed_b, "both may retry");
    assert_eq!(database.secret_reads(), 2, "one re-read for both");
    current_user(&database).await.expect("password B works");

    // An error that is not 1045 never re-reads.
    let other = sqlx::query("SELECT * FROM no_such_table_anywhere")
        .execute(database.pool())
        .await
        .expect_err("no database selected");
    assert!(!database.refresh_on_auth_failure(&other).await);
    assert_eq!(database.secret_reads(), 2);

    database.pool().close().await;
    user.drop_user().await;
    secrets
        .delete_secret()
        .secret_id(&arn)
        .force_delete_without_recovery(true)
        .send()
        .await
        .expect("delete secret");
}
