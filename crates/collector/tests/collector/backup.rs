//! The collector's backups: a fleet's pings restored whole into an empty database, on each
//! backend; an instance's backup is not the collector's.

use chrono::Utc;
use service_ping_collector::db::{ROLE, migrate};
use service_ping_database::backup::{self, Target};
use service_ping_database::testing::{every_row, fresh_database};
use service_ping_database::{Backend, Db};

use crate::support::on_both_backends;

/// A migrated, empty collector database of `backend` in `dir`, and its URL.
async fn collector_database(
    backend: Backend,
    dir: &std::path::Path,
    name: &str,
) -> (Db, secrecy::SecretString) {
    let url = fresh_database(backend, dir, name).await;
    let db = Db::connect(&url, 4).await.unwrap();
    migrate(&db).await.unwrap();
    (db, url)
}

on_both_backends! {
    async fn a_fleet_is_restored_whole_into_an_empty_database(backend: Backend) {
        let dir = tempfile::tempdir().unwrap();
        let (db, url) = collector_database(backend, dir.path(), "collector.sqlite3").await;
        service_ping_collector::fleet::seed_fleet(&db, 30, 4, Utc::now())
            .await
            .unwrap();
        let file = dir.path().join("collector.tar.zst");
        let target = Target { url: &url, data_dir: dir.path() };
        let manifest = backup::backup(&db, &target, &ROLE, &file, false).await.unwrap();
        assert_eq!(manifest.role, "collector");

        let fresh = tempfile::tempdir().unwrap();
        let restored_url = fresh_database(backend, fresh.path(), "restored.sqlite3").await;
        let restored_target = Target { url: &restored_url, data_dir: fresh.path() };
        backup::restore(&file, &restored_target, &ROLE, false).await.unwrap();
        let restored = Db::connect(&restored_url, 2).await.unwrap();
        let rows = every_row(&db).await;
        assert!(rows["usage_data"].len() >= 30 * 4, "the fleet's pings are there to compare");
        assert_eq!(every_row(&restored).await, rows);

        let instance = backup::Role { name: "instance", ..ROLE };
        let error = backup::restore(&file, &restored_target, &instance, true)
            .await
            .unwrap_err();
        assert!(format!("{error:#}").contains("this is a backup of the collector"), "{error:#}");
    }
}
