//! The vendor's view of the cohorts: the fleet page's groups now and week by week, and the
//! anonymity minimum there too.

use chrono::Utc;
use service_ping_collector::CollectorSettings;
use service_ping_collector::db::{self, CohortWeek};
use service_ping_collector::state::week_of;

use crate::support::{on_both_backends, spawn_collector_on};

on_both_backends! {
async fn the_fleet_page_shows_each_reportable_cohort_now_and_week_by_week(backend: Backend) {
    let now = Utc::now();
    let collector = spawn_collector_on(backend, |settings| {
        settings.leaders_refresh_seconds = 0;
        settings.min_cohort_size = 10;
    })
    .await;
    service_ping_collector::fleet::seed_fleet(&collector.db, 60, 4, now).await.unwrap();
    let settings = CollectorSettings { min_cohort_size: 10, ..Default::default() };
    let state = service_ping_collector::CollectorState::new(collector.db.clone(), collector.db.clone(), &settings);
    let recorded = state.backfill_cohort_history(4, now).await.unwrap();
    // Four weekly pings, the last yesterday: the oldest falls in the fourth week back or the third.
    assert!((3..=4).contains(&recorded), "{recorded} weeks");

    let history = db::cohort_history(&collector.db, week_of(now) - chrono::Duration::weeks(10)).await.unwrap();
    let weeks: std::collections::BTreeSet<_> = history.iter().map(|w| w.week).collect();
    assert_eq!(weeks.len(), recorded);
    for week in &weeks {
        let groups: Vec<&CohortWeek> = history.iter().filter(|w| w.week == *week).collect();
        assert_eq!((groups[0].group.size, groups[0].group.instances), (None, 60), "the fleet first, every instance");
        let bands: Vec<_> = groups[1..].iter().map(|w| w.group.instances).collect();
        assert!(bands.iter().all(|n| *n >= 10), "no group under the minimum: {bands:?}");
        assert!(bands.iter().sum::<usize>() < 60, "sixty instances over five bands leave one too small: {bands:?}");
    }

    let page = reqwest::get(collector.url("/")).await.unwrap().text().await.unwrap();
    // Type-erased views (`--cfg erase_components`) leave empty `<!>` comments after their text;
    // what a person reads is the page without them.
    let page = page.replace("<!>", "");
    assert!(page.contains("A group of fewer than 10 instances is neither shown here nor reported"), "{page}");
    let now_groups = state.figures().await.unwrap().cohorts.summaries();
    assert_eq!(page.matches(r#"data-testid="cohort-row""#).count(), now_groups.len());
    assert!(page.contains(r#"<td class="group">All instances</td><td class="num">60</td>"#), "{page}");
    assert!(page.contains(r#"data-testid="cohort-history""#));
    for week in &weeks {
        assert!(page.contains(&format!("<code>{week}</code>")), "week {week} on the page");
    }

    // The page's own refresh records the current week.
    let current = week_of(Utc::now());
    let mut tries = 0;
    while !db::cohort_history(&collector.db, current).await.unwrap().iter().any(|w| w.week == current) {
        tries += 1;
        assert!(tries < 50, "the current week was never recorded");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
}

on_both_backends! {
async fn with_cohorts_off_nothing_is_recorded_and_the_page_says_so(backend: Backend) {
    let collector = spawn_collector_on(backend, |settings| {
        settings.leaders_refresh_seconds = 0;
        settings.cohorts = false;
    })
    .await;
    service_ping_collector::fleet::seed_fleet(&collector.db, 30, 2, Utc::now()).await.unwrap();
    let page = reqwest::get(collector.url("/")).await.unwrap().text().await.unwrap();
    assert!(page.contains("Cohorts are off"));
    assert!(!page.contains(r#"data-testid="cohort-row""#));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let history = db::cohort_history(&collector.db, chrono::NaiveDate::MIN).await.unwrap();
    assert!(history.is_empty());
}
}
