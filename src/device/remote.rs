//! Training on another machine's devices through burn's remote backend: `kdlab serve` hosts this
//! machine's device (its GPU through wgpu, else flex) behind a token, and `--device
//! remote:ws://HOST:PORT` or `remote:iroh:SERVER_ID` trains on it. The transports (Iroh:
//! authenticated and encrypted; WebSocket: plain, for trusted networks), the sessions and the
//! token check are burn-remote's; this module parses addresses, keeps the token in a file only
//! its owner can read, and turns connection failures into one line.

use crate::device::{self, Backend, ComputeDevice, DeviceChoice};
use burn::tensor::Device;
use burn::tensor::remote::{ConnectError, EndpointId, IrohHost, IrohRelays, RemoteHost};
use burn::tensor::server::{
    AuthorizationRequest, IrohIdentity, IrohTransport, PeerAuthorizer, RemoteServer, TokenAuthorizer, Transport,
    WebSocketTransport,
};
use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

/// The environment variable a client reads its token from.
pub(crate) const TOKEN_VARIABLE: &str = "KDLAB_REMOTE_TOKEN";
/// How long a client waits for a server to answer before saying it is not there.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(8);

/// Where a remote server is, as `--device remote:…` names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RemoteAddress {
    /// `ws://HOST:PORT`: WebSocket, unencrypted, for trusted networks.
    WebSocket(String),
    /// An Iroh server: authenticated and encrypted, across networks. Found by its id through
    /// n0's public relays, or dialled directly at `direct` (relays off).
    Iroh { id: String, direct: Option<SocketAddr> },
}

impl fmt::Display for RemoteAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RemoteAddress::WebSocket(url) => write!(f, "remote:{url}"),
            RemoteAddress::Iroh { id, direct: None } => write!(f, "remote:iroh:{id}"),
            RemoteAddress::Iroh { id, direct: Some(address) } => write!(f, "remote:iroh:{id}@{address}"),
        }
    }
}

impl FromStr for RemoteAddress {
    type Err = RemoteError;

    /// `remote:ws://HOST:PORT`, `remote:iroh:SERVER_ID` or `remote:iroh:SERVER_ID@HOST:PORT`.
    fn from_str(text: &str) -> Result<RemoteAddress, RemoteError> {
        let bad = || RemoteError::Address(text.to_string());
        let rest = text.strip_prefix("remote:").ok_or_else(bad)?;
        if let Some(server) = rest.strip_prefix("iroh:") {
            let (id, direct) = match server.split_once('@') {
                Some((id, address)) => {
                    let resolved = address.to_socket_addrs().ok().and_then(|mut all| all.next());
                    (id, Some(resolved.ok_or_else(bad)?))
                }
                None => (server, None),
            };
            return match id.parse::<EndpointId>() {
                Ok(_) => Ok(RemoteAddress::Iroh { id: id.to_string(), direct }),
                Err(_) => Err(bad()),
            };
        }
        let host_port = rest.strip_prefix("ws://").ok_or_else(bad)?;
        let port = host_port.rsplit_once(':').map(|(host, port)| (host, port.parse::<u16>()));
        match port {
            Some((host, Ok(_))) if !host.is_empty() => Ok(RemoteAddress::WebSocket(rest.to_string())),
            _ => Err(bad()),
        }
    }
}

/// What `--device` names: a device of this machine, or one a `kdlab serve` hosts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceArg {
    Local(DeviceChoice),
    Remote(RemoteAddress),
}

impl FromStr for DeviceArg {
    type Err = RemoteError;

    fn from_str(text: &str) -> Result<DeviceArg, RemoteError> {
        match text {
            "auto" => Ok(DeviceArg::Local(DeviceChoice::Auto)),
            "cpu" => Ok(DeviceArg::Local(DeviceChoice::Cpu)),
            "gpu" => Ok(DeviceArg::Local(DeviceChoice::Gpu)),
            _ if text.starts_with("remote:") => text.parse().map(DeviceArg::Remote),
            _ => Err(RemoteError::Address(text.to_string())),
        }
    }
}

impl DeviceArg {
    /// The device: selected on this machine, or connected on the server with the client token.
    pub fn open(&self, token_file: Option<&Path>) -> Result<ComputeDevice, DeviceError> {
        match self {
            DeviceArg::Local(choice) => Ok(device::select(*choice)?),
            DeviceArg::Remote(address) => Ok(connect(address, &client_token(address, token_file)?)?),
        }
    }
}

/// A device as a run asks for it: what `--device` (or the app's device picker) names, and the
/// token file of a remote one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DeviceTarget {
    pub(crate) device: DeviceArg,
    pub(crate) token_file: Option<PathBuf>,
}

impl DeviceTarget {
    /// A device of this machine.
    pub(crate) fn local(choice: DeviceChoice) -> DeviceTarget {
        DeviceTarget { device: DeviceArg::Local(choice), token_file: None }
    }

    pub(crate) fn open(&self) -> Result<ComputeDevice, DeviceError> {
        self.device.open(self.token_file.as_deref())
    }
}

/// Why `--device` gave no device.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error(transparent)]
    NoGpu(#[from] device::NoGpu),
    #[error(transparent)]
    Remote(#[from] RemoteError),
}

/// What went wrong reaching, or serving, a remote device.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("--device {0}: expected auto, cpu, gpu, remote:ws://HOST:PORT or remote:iroh:SERVER_ID")]
    Address(String),
    #[error("--listen {0}: expected ws://ADDRESS:PORT")]
    Listen(String),
    #[error(
        "{device}: no token: set {TOKEN_VARIABLE} or pass --token-file FILE (the server prints where its token is)"
    )]
    NoToken { device: RemoteAddress },
    #[error("{path}: {cause}")]
    TokenFile { path: PathBuf, cause: String },
    #[error(
        "{device}: the server refused the token (check {TOKEN_VARIABLE} or --token-file against the server's token file)"
    )]
    Refused { device: RemoteAddress },
    #[error("{device}: no server answered within {} s ({reason})", CONNECT_TIMEOUT.as_secs())]
    Unreachable { device: RemoteAddress, reason: String },
    #[error("{device}: {reason}")]
    Connect { device: RemoteAddress, reason: String },
    #[error("kdlab serve: {0}")]
    Serve(String),
}

impl RemoteError {
    /// Whether the user must change what they typed or where the token is (exit 2 in the CLI).
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            RemoteError::Address(_)
                | RemoteError::Listen(_)
                | RemoteError::NoToken { .. }
                | RemoteError::TokenFile { .. }
                | RemoteError::Refused { .. }
        )
    }
}

/// The token a client presents: `KDLAB_REMOTE_TOKEN`, else the first line of `token_file`.
pub(crate) fn client_token(device: &RemoteAddress, token_file: Option<&Path>) -> Result<String, RemoteError> {
    if let Some(token) = std::env::var(TOKEN_VARIABLE).ok().filter(|t| !t.trim().is_empty()) {
        return Ok(token.trim().to_string());
    }
    match token_file {
        Some(path) => read_token(path),
        None => Err(RemoteError::NoToken { device: device.clone() }),
    }
}

fn read_token(path: &Path) -> Result<String, RemoteError> {
    let failed = |cause: String| RemoteError::TokenFile { path: path.to_path_buf(), cause };
    let text = std::fs::read_to_string(path).map_err(|e| failed(format!("cannot read the token: {e}")))?;
    let token = text.lines().next().unwrap_or_default().trim().to_string();
    if token.is_empty() {
        return Err(failed("the token file is empty".into()));
    }
    Ok(token)
}

/// The server's token: read from `path`, or made (32 random bytes, hex) and written there with
/// mode 0600 when the file does not exist. Returns the token and whether it was made.
pub(crate) fn server_token(path: &Path) -> Result<(String, bool), RemoteError> {
    if path.exists() {
        return read_token(path).map(|token| (token, false));
    }
    let bytes: [u8; 32] = rand::random();
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    write_private(path, &token).map_err(|e| RemoteError::TokenFile {
        path: path.to_path_buf(),
        cause: format!("cannot write the token: {e}"),
    })?;
    Ok((token, true))
}

/// Writes `text` to a new file only its owner can read and write.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    writeln!(file, "{text}")
}

/// Connects the first device of the server at `address`, presenting `token`; gives up after
/// [`CONNECT_TIMEOUT`].
pub(crate) fn connect(address: &RemoteAddress, token: &str) -> Result<ComputeDevice, RemoteError> {
    let host = match address {
        RemoteAddress::WebSocket(url) => RemoteHost::websocket(url),
        RemoteAddress::Iroh { id, direct } => {
            let id: EndpointId = id.parse().map_err(|_| RemoteError::Address(address.to_string()))?;
            let host = IrohHost::new(id);
            RemoteHost::iroh(match direct {
                Some(address) => host.with_relays(IrohRelays::Disabled).with_address(*address),
                None => host,
            })
        }
    }
    .with_credential(token.to_string());
    let (sender, receiver) = crossbeam_channel::bounded(1);
    // A connect cannot be cancelled: on a timeout it finishes (or fails) in the background.
    std::thread::spawn(move || {
        let _ = sender.send(Device::remote_options(&host).init());
    });
    let device = address.clone();
    match receiver.recv_timeout(CONNECT_TIMEOUT) {
        Ok(Ok(remote)) => Ok(ComputeDevice { device: remote, backend: Backend::Remote, adapter: address.to_string() }),
        Ok(Err(ConnectError::Unauthorized)) => Err(RemoteError::Refused { device }),
        Ok(Err(ConnectError::Unreachable { reason })) => Err(RemoteError::Unreachable { device, reason }),
        Ok(Err(other)) => Err(RemoteError::Connect { device, reason: format!("{other}") }),
        Err(_) => Err(RemoteError::Unreachable { device, reason: "no answer".into() }),
    }
}

/// How `kdlab serve` is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listen {
    /// WebSocket at `ws://ADDRESS:PORT` (trusted networks).
    WebSocket(String),
    /// Iroh: through n0's public relays, or only directly on `port` when `relays` is false.
    Iroh { port: Option<u16>, relays: bool },
}

/// Hosts this machine's best device (a hardware GPU through wgpu, else flex) until interrupted,
/// opening sessions only for clients that present the token in `token_file` (made when missing).
/// Every connection and refusal is logged with the client's address.
pub fn serve(listen: &Listen, token_file: &Path) -> Result<(), RemoteError> {
    let (token, made) = server_token(token_file)?;
    let verb = if made { "wrote a new token to" } else { "reads its token from" };
    eprintln!("kdlab serve: {verb} {} (give it to clients as {TOKEN_VARIABLE} or --token-file)", token_file.display());
    let compute = device::select(DeviceChoice::Auto).map_err(|e| RemoteError::Serve(e.to_string()))?;
    let (transport, address) = transport(listen, token_file)?;
    eprintln!("kdlab serve: hosting {} for clients of --device {address}", compute.label());
    let authorizer = LoggingAuthorizer(TokenAuthorizer::new(token).map_err(|e| RemoteError::Serve(e.to_string()))?);
    RemoteServer::new([compute.device])
        .with_authorizer(authorizer)
        .serve(transport)
        .map_err(|e| RemoteError::Serve(e.to_string()))
}

/// The transport `listen` asks for, and the `--device` value that reaches it. An Iroh server
/// keeps its identity (and so its id) in `TOKEN_FILE.iroh-key` beside the token.
fn transport(listen: &Listen, token_file: &Path) -> Result<(Transport, String), RemoteError> {
    match listen {
        Listen::WebSocket(url) => {
            let address = url
                .strip_prefix("ws://")
                .filter(|a| a.rsplit_once(':').is_some_and(|(_, port)| port.parse::<u16>().is_ok()))
                .ok_or_else(|| RemoteError::Listen(url.clone()))?;
            let listener = std::net::TcpListener::bind(address)
                .map_err(|e| RemoteError::Serve(format!("cannot listen on {address}: {e}")))?;
            Ok((WebSocketTransport::from_listener(listener).into(), format!("remote:ws://{address}")))
        }
        Listen::Iroh { port, relays } => {
            let key = token_file.with_extension("iroh-key");
            let identity = IrohIdentity::load_or_create(&key).map_err(|e| RemoteError::TokenFile {
                path: key.clone(),
                cause: format!("cannot keep the Iroh identity: {e}"),
            })?;
            let mut transport = IrohTransport::new(identity);
            if let Some(port) = port {
                transport = transport.with_port(*port);
            }
            let id = transport.id();
            let device = match (relays, port) {
                (true, _) => format!("remote:iroh:{id}"),
                (false, Some(port)) => {
                    transport = transport.with_relays(burn::tensor::server::IrohRelays::Disabled);
                    format!("remote:iroh:{id}@HOST:{port}")
                }
                (false, None) => {
                    return Err(RemoteError::Serve(
                        "--no-relays needs --port: clients must be told where to dial".into(),
                    ));
                }
            };
            Ok((transport.into(), device))
        }
    }
}

/// The token check, logging each session it opens or refuses with the client's address.
struct LoggingAuthorizer(TokenAuthorizer);

impl PeerAuthorizer for LoggingAuthorizer {
    fn authorize(&self, request: AuthorizationRequest<'_>) -> Result<(), String> {
        let (client, device) = (request.client, request.device_index);
        let verdict = self.0.authorize(request);
        match &verdict {
            Ok(()) => eprintln!("kdlab serve: {client} connected to device {device}"),
            Err(why) => eprintln!("kdlab serve: refused: {why}"),
        }
        verdict
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_or_say_what_is_expected() {
        assert_eq!(
            "remote:ws://127.0.0.1:3000".parse::<RemoteAddress>().ok(),
            Some(RemoteAddress::WebSocket("ws://127.0.0.1:3000".into()))
        );
        assert!("remote:iroh:abc".parse::<RemoteAddress>().is_err(), "not an Iroh id");
        for bad in [
            "remote:",
            "remote:ws://host",
            "remote:ws://:80",
            "remote:http://h:1",
            "ws://h:1",
            "remote:iroh:",
            "remote:iroh:x@",
        ] {
            assert!(bad.parse::<RemoteAddress>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_new_server_token_is_private_and_read_back() {
        let dir = std::env::temp_dir().join(format!("kdlab-token-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).ok();
        let path = dir.join("token");
        let (token, made) = server_token(&path).expect("a token is made");
        assert!(made && token.len() == 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).map(|m| m.permissions().mode() & 0o777).unwrap_or(0);
            assert_eq!(mode, 0o600);
        }
        assert_eq!(server_token(&path).ok(), Some((token, false)), "read back, not made again");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
