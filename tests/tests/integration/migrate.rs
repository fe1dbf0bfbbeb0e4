//! The migrate function applies every migration, and applying twice changes nothing.

use crate::support::TestDb;

#[tokio::test]
async fn migrate_is_idempotent() {
    let db = TestDb::new().await;
    let first = migrate::apply(&db.pool).await.expect("first run");
    let second = migrate::apply(&db.pool).await.expect("second run");
    assert_eq!(first, second);
    assert!(!first["applied"].as_array().expect("versions").is_empty());
    let tables: Vec<String> = sqlx::query_scalar("SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() ORDER BY 1")
        .fetch_all(&db.pool)
        .await
        .expect("tables");
    for table in [
        "action",
        "actor",
        "client_event",
        "cookie",
        "event_info",
        "import_file",
        "result",
        "sentences",
        "tanet_info",
        "video_info",
    ] {
        assert!(
            tables.iter().any(|t| t == table),
            "{table} exists: {tables:?}"
        );
    }
}
