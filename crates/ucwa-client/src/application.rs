//! An application: one endpoint of a signed-in identity, with its event channel
//! ([application](https://learn.microsoft.com/en-us/skype-sdk/ucwa/application_ref);
//! docs/protocol.md, application, me).
//!
//! Every link an operation follows is looked up on the application resource and the resources
//! embedded in it (`me`, `communication`, `onlineMeetings`, ...), by rel name, so the same
//! code serves UCWA and the Trusted Application API's prefixed rels.
//!
//! # Concurrency
//! The handles ([`Join`](crate::Join), [`Conversation`](crate::Conversation), ...) share
//! the application through an `Arc`. The event channel is read by one pump task, started by
//! the first handle that needs events and stopped when the last clone of the application is
//! dropped; it publishes to the [hub](crate::Notifications). The application resource is kept
//! in a `std::sync::Mutex` that is never held across an `.await`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ucwa_proto::model::{self, AnyResource, Hal};
use ucwa_proto::request::MakeMeAvailable;
use ucwa_proto::{RelName, SipUri};

use crate::client::USER_AGENT;
use crate::error::{Error, Result};
use crate::events::{ChannelOptions, EventStream, Position};
use crate::http::Http;
use crate::hub::{Hub, Notifications};

/// How an application is created and run.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AppOptions {
    /// The endpoint id: creating an application is idempotent per endpoint id.
    pub endpoint_id: String,
    /// The application's `userAgent`.
    pub user_agent: String,
    /// The application's `culture`.
    pub culture: String,
    /// How the handles' event channel reader polls.
    pub channel: ChannelOptions,
    /// Whether dropping the last handle of the application deletes it (in the background;
    /// see [`Application::delete`]).
    pub delete_on_drop: bool,
}

impl AppOptions {
    /// Defaults for `endpoint_id`: the SDK's user agent, `en-US`, the server's channel
    /// timeouts, deleted on drop.
    pub fn new(endpoint_id: impl Into<String>) -> Self {
        Self {
            endpoint_id: endpoint_id.into(),
            user_agent: USER_AGENT.into(),
            culture: "en-US".into(),
            channel: ChannelOptions::default(),
            delete_on_drop: true,
        }
    }

    /// Sets the channel options.
    pub fn channel(mut self, channel: ChannelOptions) -> Self {
        self.channel = channel;
        self
    }

    /// Keeps the application when the last handle is dropped.
    pub fn keep_on_drop(mut self) -> Self {
        self.delete_on_drop = false;
        self
    }
}

/// Which API an application speaks.
#[derive(Debug, Clone)]
pub(crate) enum Surface {
    /// UCWA: users, and anonymous guests (who join with their display name).
    Ucwa { guest_name: Option<String> },
    /// A Trusted Application API service application; its events come as callbacks.
    Service,
}

/// Who reads the event channel: one reader per application, or the server replaces one with
/// the other (`PGetReplaced`).
enum ChannelReader {
    None,
    /// The caller, through [`Application::event_stream`].
    Caller,
    /// The pump task feeding the hub.
    Pump(tokio::task::JoinHandle<()>),
    /// Trusted Application API callbacks feed the hub.
    Callbacks,
}

pub(crate) struct AppInner {
    pub(crate) http: Http,
    href: String,
    resource: Mutex<Hal<model::Application>>,
    pub(crate) hub: Arc<Hub>,
    reader: Mutex<ChannelReader>,
    options: AppOptions,
    pub(crate) surface: Surface,
    delete_on_drop: AtomicBool,
    keep_alive: Mutex<Option<tokio::task::JoinHandle<()>>>,
    operation_prefix: String,
    operations: AtomicU64,
}

impl Drop for AppInner {
    fn drop(&mut self) {
        if let ChannelReader::Pump(task) = std::mem::replace(&mut *lock(&self.reader), ChannelReader::None) {
            task.abort();
        }
        if let Some(task) = lock(&self.keep_alive).take() {
            task.abort();
        }
        if self.delete_on_drop.load(Ordering::Relaxed)
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let (http, href) = (self.http.clone(), self.href.clone());
            runtime.spawn(async move {
                let _ = http.delete(&href).await;
            });
        }
    }
}

/// `lock()` that survives a panic elsewhere: the guarded values are replaced whole.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// An application and everything reached from it. Cheap to clone; the last clone dropped
/// stops its event reader and (unless [`AppOptions::keep_on_drop`]) deletes it.
#[derive(Clone)]
pub struct Application {
    pub(crate) inner: Arc<AppInner>,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application").field("href", &self.inner.href).finish_non_exhaustive()
    }
}

/// A random prefix for this application's operation ids, so ids never repeat across runs.
fn random_prefix() -> String {
    let mut bytes = [0u8; 4];
    // An operation id only needs to differ from the application's earlier ones; a clock
    // fallback is enough where the system's random source is missing.
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        bytes = nanos.subsec_nanos().to_le_bytes();
    }
    hex::encode(bytes)
}

impl Application {
    pub(crate) fn new(
        http: Http,
        resource: Hal<model::Application>,
        surface: Surface,
        options: AppOptions,
    ) -> Result<Self> {
        let href = resource
            .self_href()
            .ok_or_else(|| Error::NotAvailable { rel: RelName::SelfLink, resource: "the application".into() })?;
        let href = http.resolve(href)?.to_string();
        let reader = match surface {
            Surface::Service => ChannelReader::Callbacks,
            Surface::Ucwa { .. } => ChannelReader::None,
        };
        let inner = AppInner {
            http,
            href,
            resource: Mutex::new(resource),
            hub: Arc::new(Hub::default()),
            reader: Mutex::new(reader),
            delete_on_drop: AtomicBool::new(options.delete_on_drop),
            options,
            surface,
            keep_alive: Mutex::new(None),
            operation_prefix: random_prefix(),
            operations: AtomicU64::new(0),
        };
        Ok(Self { inner: Arc::new(inner) })
    }

    pub(crate) fn http(&self) -> &Http {
        &self.inner.http
    }

    /// The application's absolute URL.
    pub fn href(&self) -> &str {
        &self.inner.href
    }

    /// The application resource as last read.
    pub fn resource(&self) -> Hal<model::Application> {
        lock(&self.inner.resource).clone()
    }

    /// The endpoint id it was created with.
    pub fn endpoint_id(&self) -> &str {
        &self.inner.options.endpoint_id
    }

    /// The signed-in identity (`me`), as embedded in the application.
    pub fn me(&self) -> Option<model::Me> {
        lock(&self.inner.resource).embedded.one::<model::Me>(RelName::Me).map(|me| me.props.clone())
    }

    /// The display name an anonymous guest joins with.
    pub(crate) fn guest_name(&self) -> Option<&str> {
        match &self.inner.surface {
            Surface::Ucwa { guest_name } => guest_name.as_deref(),
            Surface::Service => None,
        }
    }

    /// A fresh operation id (`operationId`) for a request of this application.
    pub(crate) fn operation_id(&self) -> String {
        let n = self.inner.operations.fetch_add(1, Ordering::Relaxed) + 1;
        format!("{}-{n}", self.inner.operation_prefix)
    }

    /// The href of the link `name`: on the application, on a resource embedded in it, or the
    /// `self` of an embedded resource named `name`. Absolute.
    pub(crate) fn find_href(&self, name: RelName) -> Result<String> {
        let href = {
            let app = lock(&self.inner.resource);
            app.links.href(name.clone()).map(str::to_owned).or_else(|| {
                app.embedded.iter().find_map(|(rel, embeds)| {
                    embeds.as_slice().iter().find_map(|resource: &AnyResource| {
                        let own = (rel.name == name).then(|| resource.self_href()).flatten();
                        own.or_else(|| resource.links().href(name.clone())).map(str::to_owned)
                    })
                })
            })
        };
        let href = href.ok_or_else(|| Error::NotAvailable { rel: name, resource: self.inner.href.clone() })?;
        Ok(self.inner.http.resolve(&href)?.to_string())
    }

    /// Reads the application again (after `makeMeAvailable`, its `me` has other links).
    pub async fn refresh(&self) -> Result<Hal<model::Application>> {
        let resource: Hal<model::Application> = self.inner.http.get(&self.inner.href).await?;
        *lock(&self.inner.resource) = resource.clone();
        Ok(resource)
    }

    /// `makeMeAvailable` with messaging: the application can then receive invitations and
    /// messages. Calling it again is harmless.
    pub async fn make_me_available(&self) -> Result<()> {
        let href = match self.find_href(RelName::MakeMeAvailable) {
            Ok(href) => href,
            // Already available: `me` links `reportMyActivity` instead.
            Err(_) if self.find_href(RelName::ReportMyActivity).is_ok() => return Ok(()),
            Err(e) => return Err(e),
        };
        let mut body = MakeMeAvailable::default();
        body.sign_in_as = Some("Online".into());
        body.supported_modalities = Some(vec![ucwa_proto::values::ModalityType::Messaging]);
        body.supported_message_formats =
            Some(vec![ucwa_proto::values::MessageFormat::Plain, ucwa_proto::values::MessageFormat::Html]);
        match self.inner.http.act_with(&href, &body).await {
            Ok(()) => {}
            // 409: it already was.
            Err(e) if e.status() == Some(409) => {}
            Err(e) => return Err(e),
        }
        self.refresh().await.map(drop)
    }

    /// `reportMyActivity`: tells the server the application is in use (it expires after a
    /// while without event requests or activity reports). Needs [`make_me_available`](Self::make_me_available) first.
    pub async fn report_activity(&self) -> Result<()> {
        let me: Hal<model::Me> = self.inner.http.get(&self.find_href(RelName::Me)?).await?;
        let href = me
            .links
            .href(RelName::ReportMyActivity)
            .ok_or_else(|| Error::NotAvailable { rel: RelName::ReportMyActivity, resource: "me".into() })?;
        self.inner.http.act(href).await
    }

    /// Reports activity every `every` in the background until the application is dropped
    /// (only needed when nothing reads its event channel: a parked event request keeps it
    /// alive too).
    pub fn keep_alive(&self, every: Duration) {
        let weak = Arc::downgrade(&self.inner);
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(inner) = weak.upgrade() else { return };
                // A failed report is tried again at the next tick; expiry would show in the
                // event channel anyway.
                let _ = Application { inner }.report_activity().await;
            }
        });
        if let Some(old) = lock(&self.inner.keep_alive).replace(task) {
            old.abort();
        }
    }

    /// Whether dropping the last handle deletes the application.
    pub fn set_delete_on_drop(&self, delete: bool) {
        self.inner.delete_on_drop.store(delete, Ordering::Relaxed);
    }

    /// Deletes the application now: its conversations end first, so the others see it leave.
    pub async fn delete(self) -> Result<()> {
        self.inner.delete_on_drop.store(false, Ordering::Relaxed);
        self.inner.http.delete(&self.inner.href).await
    }

    /// The raw event channel, for a caller that reads it itself (and saves its
    /// [`Position`]). An application has one reader: this fails once the handles' reader has
    /// started, and the handles cannot follow events afterwards.
    pub fn event_stream(&self, options: ChannelOptions) -> Result<EventStream> {
        self.take_channel()?;
        EventStream::new(self.inner.http.clone(), &self.find_href(RelName::Events)?, options)
    }

    /// The raw event channel from a saved position (see [`Application::event_stream`]).
    pub fn resume_event_stream(&self, position: Position, options: ChannelOptions) -> Result<EventStream> {
        self.take_channel()?;
        Ok(EventStream::resume(self.inner.http.clone(), position, options))
    }

    fn take_channel(&self) -> Result<()> {
        let mut reader = lock(&self.inner.reader);
        match *reader {
            ChannelReader::None | ChannelReader::Caller => {
                *reader = ChannelReader::Caller;
                Ok(())
            }
            _ => Err(Error::Invalid("this application's events are already read by its handles".into())),
        }
    }

    /// Every event of the application from now on, shared with the handles (which start
    /// the channel reader if none runs yet).
    pub fn subscribe(&self) -> Result<Notifications> {
        let notifications = self.inner.hub.subscribe();
        self.start_reader()?;
        Ok(notifications)
    }

    /// Starts the pump task unless the channel already has a reader.
    fn start_reader(&self) -> Result<()> {
        let mut reader = lock(&self.inner.reader);
        match *reader {
            ChannelReader::Pump(_) | ChannelReader::Callbacks => Ok(()),
            ChannelReader::Caller => Err(Error::Invalid("this application's events are read by the caller".into())),
            ChannelReader::None => {
                let mut stream = EventStream::new(
                    self.inner.http.clone(),
                    &self.find_href(RelName::Events)?,
                    self.inner.options.channel.clone(),
                )?;
                let hub = self.inner.hub.clone();
                *reader = ChannelReader::Pump(tokio::spawn(async move {
                    while let Some(item) = stream.next_item().await {
                        match item {
                            Ok(item) => hub.publish(item),
                            Err(e) => return hub.end(e),
                        }
                    }
                }));
                Ok(())
            }
        }
    }

    /// The signed-in identity's SIP URI, when it is a user.
    pub fn uri(&self) -> Option<SipUri> {
        self.me().map(|me| me.uri)
    }
}
