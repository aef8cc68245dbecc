//! The signed-in session, kept between runs in the user's config directory
//! (`$XDG_CONFIG_HOME/ucwa/session.json` on Linux; `--config-dir` or `UCWA_CONFIG_DIR`
//! elsewhere): the server, the user, the bearer token, the application's endpoint id and
//! URL, and how far `ucwa events` got. The token is a secret: the directory is created
//! owner-only (0700) and the file is written owner-only (0600) through a temporary file, so it
//! is never readable by others, not even for a moment. The password is never stored.

use std::fs;
use std::io::Write;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use ucwa_client::Position;

use crate::Failure;

/// What `ucwa login` keeps.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Saved {
    /// The server's root URL.
    pub(crate) server: String,
    /// The user name signed in with.
    pub(crate) user: String,
    /// The bearer token.
    pub(crate) token: String,
    /// The endpoint id of the command line's application (created again when it expired).
    pub(crate) endpoint_id: String,
    /// The application's URL when last used.
    pub(crate) application: Option<String>,
    /// Where `ucwa events` stopped, in that application's channel.
    pub(crate) events: Option<Position>,
}

/// The config directory.
pub(crate) struct Store {
    dir: PathBuf,
}

const FILE: &str = "session.json";

impl Store {
    /// `dir`, or the user's config directory.
    pub(crate) fn new(dir: Option<PathBuf>) -> Result<Self, Failure> {
        let dir = match dir {
            Some(dir) => dir,
            None => dirs::config_dir()
                .ok_or_else(|| Failure::error("no config directory: set UCWA_CONFIG_DIR or pass --config-dir"))?
                .join("ucwa"),
        };
        Ok(Self { dir })
    }

    /// The saved session; an error telling how to sign in when there is none.
    pub(crate) fn load(&self) -> Result<Saved, Failure> {
        let path = self.dir.join(FILE);
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Failure::error("not signed in: run `ucwa login --server URL --user NAME` first"));
            }
            Err(e) => return Err(Failure::error(format!("{}: {e}", path.display()))),
        };
        serde_json::from_str(&text)
            .map_err(|e| Failure::error(format!("{}: {e}; run `ucwa login` again", path.display())))
    }

    /// Writes the session, owner-only.
    pub(crate) fn save(&self, saved: &Saved) -> Result<(), Failure> {
        let io = |e: std::io::Error| Failure::error(format!("{}: {e}", self.dir.display()));
        let mut dir = fs::DirBuilder::new();
        dir.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut dir, 0o700);
        dir.create(&self.dir).map_err(io)?;
        #[cfg(unix)]
        fs::set_permissions(&self.dir, std::os::unix::fs::PermissionsExt::from_mode(0o700)).map_err(io)?;
        let temp = self.dir.join(format!(".{FILE}.{}", std::process::id()));
        let mut options = fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&temp).map_err(io)?;
        let text = serde_json::to_vec_pretty(saved).map_err(|e| Failure::error(e.to_string()))?;
        file.write_all(&text).and_then(|()| file.sync_all()).map_err(io)?;
        fs::rename(&temp, self.dir.join(FILE)).map_err(io)
    }

    /// Forgets the session.
    pub(crate) fn remove(&self) -> Result<(), Failure> {
        match fs::remove_file(self.dir.join(FILE)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Failure::error(format!("{}: {e}", self.dir.display()))),
        }
    }
}
