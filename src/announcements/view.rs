//! The Announcements page (banners and email to all users), and the banners every page shows.

use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;

use super::{
    Announcement, Announcements, CreateAnnouncement, DeleteAnnouncement, EmailAllUsers,
    MAX_BODY_CHARS, MAX_MESSAGE_CHARS, MAX_SUBJECT_CHARS, SentEmail, THEMES, create_announcement,
    delete_announcement, email_all_users, get_announcements, get_outbox,
};
use crate::components::time::Time;
use crate::components::{ErrorNotice, FormRefusal, PageHeader, RowActionForm, loaded, plural};
use crate::licensing::Feature;
use crate::licensing::view::PaidFeature;

/// The banners at the top of every dashboard page; fetched again on each navigation.
#[component]
pub fn BannerStrip() -> impl IntoView {
    let location = leptos_router::hooks::use_location();
    let banners = Resource::new(move || location.pathname.get(), |_| super::get_banners());
    view! {
        <Transition fallback=|| ()>
            {move || banners.get().and_then(Result::ok).map(|banners| view! {
                {banners.maintenance.map(|message| view! {
                    <div class="banner banner-warning" role="status" data-testid="maintenance-banner">{message}</div>
                })}
                {banners.announcements.into_iter().map(|a| view! {
                    <div class=format!("banner banner-{}", a.theme) role="status" data-testid="announcement-banner">{a.message}</div>
                }).collect_view()}
            })}
        </Transition>
    }
}

/// Resources are created here, at the page's top, never inside a `Suspend` (the gate's): one
/// created there is made again when it resumes, and hydration then finds other ids.
#[component]
pub fn AnnouncementsPage() -> impl IntoView {
    let (reloads, set_reloads) = signal(0u32);
    let data = Resource::new(move || reloads.get(), |_| get_announcements());
    let reload = Callback::new(move |()| set_reloads.update(|n| *n += 1));
    let (shown, set_shown) = signal(None::<i64>);
    let outbox = Resource::new(
        move || shown.get(),
        |id| async move {
            match id {
                Some(id) => get_outbox(id, 50).await.map(Some),
                None => Ok(None),
            }
        },
    );
    view! {
        <Title text="Announcements · Admin · Service Ping"/>
        <PageHeader title="Announcements" subtitle=Feature::Announcements.summary()/>
        <PaidFeature feature=Feature::Announcements>
            {loaded(data, move |data: Announcements| view! {
                <NewBanner on_change=reload/>
                <BannerList messages=data.messages on_change=reload/>
                <EmailForm transport=data.transport active_users=data.active_users on_change=reload/>
                <SentEmails emails=data.emails show=set_shown outbox/>
            })}
        </PaidFeature>
    }
}

/// Each form also posts itself before the bundle has loaded (or without JavaScript): its fields
/// are named as the server function's arguments, and the server sends the browser back here,
/// where a refusal shows above the form.
#[component]
fn NewBanner(on_change: Callback<()>) -> impl IntoView {
    let (message, set_message) = signal(String::new());
    let (theme, set_theme) = signal(THEMES[0].to_string());
    let (days, set_days) = signal("7".to_string());
    let create = Action::new(|(message, theme, days): &(String, String, u32)| {
        create_announcement(message.clone(), theme.clone(), *days)
    });
    Effect::new(move || {
        if let Some(Ok(())) = create.value().get() {
            set_message.set(String::new());
            on_change.run(());
        }
    });
    view! {
        <section class="card" aria-labelledby="new-banner-heading">
            <h2 id="new-banner-heading">"Add a banner"</h2>
            <FormRefusal path={<CreateAnnouncement as ServerFn>::PATH}/>
            <form class="form-stack" method="post" action=CreateAnnouncement::url()
                on:submit=move |ev: leptos::ev::SubmitEvent| {
                ev.prevent_default();
                create.dispatch((message.get_untracked(), theme.get_untracked(), days.get_untracked().parse().unwrap_or(0)));
            }>
                <label for="banner-message">"Message"</label>
                <textarea id="banner-message" name="message" rows="2" required maxlength=MAX_MESSAGE_CHARS.to_string()
                    data-testid="banner-message"
                    prop:value=message on:input=move |ev| set_message.set(event_target_value(&ev))></textarea>
                <label for="banner-theme">"Colour"</label>
                <select id="banner-theme" name="theme" data-testid="banner-theme" on:change=move |ev| set_theme.set(event_target_value(&ev))>
                    {THEMES.iter().map(|t| view! { <option value=*t>{*t}</option> }).collect_view()}
                </select>
                <label for="banner-days">"Show for (days)"</label>
                <input id="banner-days" name="days" type="number" value="7" min="1" max=super::MAX_DAYS.to_string() data-testid="banner-days"
                    prop:value=days on:input=move |ev| set_days.set(event_target_value(&ev))/>
                <div><button type="submit" class="button button-primary" data-testid="banner-create"
                    disabled=move || create.pending().get()>"Add banner"</button></div>
            </form>
            {move || create.value().get().and_then(Result::err).map(|error| view! { <ErrorNotice error/> })}
        </section>
    }
}

#[component]
fn BannerList(messages: Vec<Announcement>, on_change: Callback<()>) -> impl IntoView {
    let delete = Action::new(|id: &i64| delete_announcement(*id));
    Effect::new(move || {
        if let Some(Ok(())) = delete.value().get() {
            on_change.run(());
        }
    });
    view! {
        <section class="card" aria-labelledby="banners-heading">
            <h2 id="banners-heading">"Banners"</h2>
            <FormRefusal path={<DeleteAnnouncement as ServerFn>::PATH}/>
            {if messages.is_empty() {
                view! { <p class="empty-state">"No banners yet."</p> }.into_any()
            } else {
                view! {
                    <table class="data-table" data-testid="banner-table">
                        <thead><tr><th>"Message"</th><th>"Colour"</th><th>"Shows until"</th><th>"State"</th><th></th></tr></thead>
                        <tbody>
                            {messages.into_iter().map(|m| {
                                let id = m.id;
                                view! {
                                    <tr>
                                        <td>{m.message}</td>
                                        <td>{m.theme}</td>
                                        <td><Time at=m.ends_at/></td>
                                        <td>{if m.active { "Showing" } else { "Ended" }}</td>
                                        <td>
                                            <RowActionForm url=DeleteAnnouncement::url() id action=delete>
                                                <button type="submit" class="button button-secondary" data-testid="banner-delete">"Delete"</button>
                                            </RowActionForm>
                                        </td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
            {move || delete.value().get().and_then(Result::err).map(|error| view! { <ErrorNotice error/> })}
        </section>
    }
}

#[component]
fn EmailForm(transport: String, active_users: i64, on_change: Callback<()>) -> impl IntoView {
    let (subject, set_subject) = signal(String::new());
    let (body, set_body) = signal(String::new());
    let send = Action::new(|(subject, body): &(String, String)| {
        email_all_users(subject.clone(), body.clone())
    });
    Effect::new(move || {
        if let Some(Ok(_)) = send.value().get() {
            set_subject.set(String::new());
            set_body.set(String::new());
            on_change.run(());
        }
    });
    let audience = format!(
        "Goes to {} through {transport}.",
        plural(
            usize::try_from(active_users).unwrap_or(0),
            "active user",
            "active users"
        )
    );
    view! {
        <section class="card" aria-labelledby="email-heading">
            <h2 id="email-heading">"Email all users"</h2>
            <p class="muted" data-testid="email-audience">{audience}</p>
            <FormRefusal path={<EmailAllUsers as ServerFn>::PATH}/>
            <form class="form-stack" method="post" action=EmailAllUsers::url()
                on:submit=move |ev: leptos::ev::SubmitEvent| {
                ev.prevent_default();
                send.dispatch((subject.get_untracked(), body.get_untracked()));
            }>
                <label for="email-subject">"Subject"</label>
                <input id="email-subject" name="subject" type="text" required maxlength=MAX_SUBJECT_CHARS.to_string() data-testid="email-subject"
                    prop:value=subject on:input=move |ev| set_subject.set(event_target_value(&ev))/>
                <label for="email-body">"Message"</label>
                <textarea id="email-body" name="body" rows="5" required maxlength=MAX_BODY_CHARS.to_string() data-testid="email-body"
                    prop:value=body on:input=move |ev| set_body.set(event_target_value(&ev))></textarea>
                <div><button type="submit" class="button button-primary" data-testid="email-send"
                    disabled=move || send.pending().get()>"Send email"</button></div>
            </form>
            {move || send.value().get().and_then(Result::err).map(|error| view! { <ErrorNotice error/> })}
        </section>
    }
}

type Outbox = Resource<Result<Option<Vec<super::OutboxMessage>>, crate::error::ApiError>>;

#[component]
fn SentEmails(
    emails: Vec<SentEmail>,
    show: WriteSignal<Option<i64>>,
    outbox: Outbox,
) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="outbox-heading">
            <h2 id="outbox-heading">"Sent emails and outbox"</h2>
            {if emails.is_empty() {
                view! { <p class="empty-state">"No emails sent yet."</p> }.into_any()
            } else {
                view! {
                    <table class="data-table" data-testid="email-table">
                        <thead><tr><th>"Subject"</th><th>"Through"</th><th>"Recipients"</th><th>"Delivered"</th><th>"Failed"</th><th>"Sent at"</th><th></th></tr></thead>
                        <tbody>
                            {emails.into_iter().map(|e| {
                                let id = e.id;
                                view! {
                                    <tr>
                                        <td>{e.subject}</td>
                                        <td>{if e.transport == "smtp" { "SMTP" } else { "Outbox" }}</td>
                                        <td data-testid="email-recipients">{e.recipients}</td>
                                        <td data-testid="email-delivered">{e.delivered}</td>
                                        <td>{e.failed}</td>
                                        <td><Time at=e.created_at/></td>
                                        <td><button type="button" class="button button-secondary" data-testid="email-show-outbox"
                                            on:click=move |_| show.set(Some(id))>"Messages"</button></td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
            {loaded(outbox, |messages| messages.map(|messages| view! {
                <h3>"First "{messages.len()}" messages"</h3>
                <ul class="outbox" data-testid="outbox">
                    {messages.into_iter().map(|m| view! {
                        <li>
                            <strong>{m.recipient}</strong>" · "{m.subject}" · "<span class="muted">{m.status}</span>
                            {m.error.map(|e| view! { <span class="muted">" ("{e}")"</span> })}
                        </li>
                    }).collect_view()}
                </ul>
            }))}
        </section>
    }
}
