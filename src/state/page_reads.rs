//! Reads a page render shares. An admin page runs several server functions while it renders
//! (the layout's account and notice, the page's own data), and most of them ask the same things:
//! whether Service Ping is on, which license is installed. The admin-page guard puts a
//! [`PageReads`] in the request's extensions; [`read_once`] then answers each such question from
//! the database once per render, and every server function of that render sees the same answer.
//!
//! Only page renders (safe `GET`s, which change nothing) carry one: a server function called on
//! its own (`/api/…`, which may write) and the background jobs always read the database.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::OnceCell;

/// One render's answers, each kept under the type of its value.
#[derive(Clone, Default)]
pub struct PageReads(Arc<Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>>);

impl PageReads {
    fn cell<T: Send + Sync + 'static>(&self) -> Arc<OnceCell<T>> {
        let mut cells = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let cell = cells
            .entry(TypeId::of::<T>())
            .or_insert_with(|| Arc::new(OnceCell::<T>::new()));
        Arc::clone(cell)
            .downcast()
            .expect("a cell is stored under the type of its value")
    }
}

/// `read`'s answer, read once per page render; outside a render, `read` itself. Renders run
/// their server functions concurrently: the first asks, the others wait for its answer. A
/// failed read is not kept (the next caller asks again).
pub async fn read_once<T, E, F, Fut>(read: F) -> Result<T, E>
where
    T: Clone + Send + Sync + 'static,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let Some(reads) = this_render() else {
        return read().await;
    };
    reads.cell::<T>().get_or_try_init(read).await.cloned()
}

fn this_render() -> Option<PageReads> {
    let request = leptos::prelude::use_context::<axum::http::request::Parts>()?;
    request.extensions.get::<PageReads>().cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn a_render_reads_each_value_once_and_other_types_apart() {
        let reads = PageReads::default();
        let asked = AtomicUsize::new(0);
        let ask = |value: u32| {
            let asked = &asked;
            async move {
                asked.fetch_add(1, Ordering::SeqCst);
                Ok::<_, ()>(value)
            }
        };
        let first = reads
            .cell::<u32>()
            .get_or_try_init(|| ask(7))
            .await
            .copied();
        let again = reads
            .cell::<u32>()
            .get_or_try_init(|| ask(8))
            .await
            .copied();
        let other = reads
            .cell::<(u32,)>()
            .get_or_try_init(|| async { Ok::<_, ()>((9,)) })
            .await
            .copied();
        assert_eq!((first, again, other), (Ok(7), Ok(7), Ok((9,))));
        assert_eq!(asked.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn outside_a_render_every_call_reads() {
        let asked = AtomicUsize::new(0);
        for _ in 0..2 {
            let value = read_once(|| async {
                asked.fetch_add(1, Ordering::SeqCst);
                Ok::<_, ()>(1u8)
            })
            .await;
            assert_eq!(value, Ok(1));
        }
        assert_eq!(asked.load(Ordering::SeqCst), 2);
    }
}
