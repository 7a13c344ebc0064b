"""A real, local Google Cloud Storage for tests: gcp-storage-emulator (plain
HTTP, in memory) plus a small TLS-terminating proxy, in a subprocess.

Who reaches it, and how (`running()` yields the environment):
  * TensorFlow's built-in gs:// filesystem (what etils.epath, orbax's metadata
    and TFDS use when TF is installed, i.e. on a TPU VM) has fixed https
    endpoints, but its libcurl honours HTTPS_PROXY and CURL_CA_BUNDLE: the
    proxy answers `CONNECT host:443` with a throwaway certificate signed by a
    throwaway CA and pipes the decrypted HTTP to the emulator.
  * tensorstore (orbax's array data): TENSORSTORE_GCS_HTTP_URL, direct.
  * gcsfs (epath's backend without TF, EPATH_USE_TF=false): STORAGE_EMULATOR_HOST.
The emulator runs in its own process: some TF calls hold the GIL during GCS
I/O (TFRecordWriter.flush, used by TFDS's writer), so an emulator thread in
the TF process would deadlock. `patch_emulator` fills the gaps these clients
hit (each named there).

Run alone: python tests/gcs_emulator.py WORKDIR [BUCKET ...] prints the
environment as one JSON line and serves until killed.
"""

import contextlib
import datetime
import json
import logging
import os
import select
import socket
import socketserver
import ssl
import sys
import threading
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

HOSTS = ("www.googleapis.com", "storage.googleapis.com", "oauth2.googleapis.com")
log = logging.getLogger("fake_gcs")


# ---------------------------------------------------------------- certs ---
def make_certs(workdir):
  """Writes ca.pem, leaf.pem, leaf.key into workdir; returns their paths."""
  now = datetime.datetime.now(datetime.timezone.utc)
  ca_key = ec.generate_private_key(ec.SECP256R1())
  ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake-gcs test CA")])
  ca = (
      x509.CertificateBuilder()
      .subject_name(ca_name).issuer_name(ca_name)
      .public_key(ca_key.public_key())
      .serial_number(x509.random_serial_number())
      .not_valid_before(now - datetime.timedelta(days=1))
      .not_valid_after(now + datetime.timedelta(days=2))
      .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
      .add_extension(x509.KeyUsage(
          digital_signature=True, content_commitment=False, key_encipherment=False,
          data_encipherment=False, key_agreement=False, key_cert_sign=True,
          crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
      .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                     critical=False)
      .sign(ca_key, hashes.SHA256())
  )
  leaf_key = ec.generate_private_key(ec.SECP256R1())
  leaf = (
      x509.CertificateBuilder()
      .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOSTS[0])]))
      .issuer_name(ca_name)
      .public_key(leaf_key.public_key())
      .serial_number(x509.random_serial_number())
      .not_valid_before(now - datetime.timedelta(days=1))
      .not_valid_after(now + datetime.timedelta(days=2))
      .add_extension(x509.SubjectAlternativeName(
          [x509.DNSName(h) for h in HOSTS] + [x509.DNSName("*.googleapis.com")]),
          critical=False)
      .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
      .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                     critical=False)
      .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
          ca_key.public_key()), critical=False)
      .sign(ca_key, hashes.SHA256())
  )
  pem = serialization.Encoding.PEM
  paths = {k: os.path.join(workdir, k) for k in ("ca.pem", "leaf.pem", "leaf.key")}
  with open(paths["ca.pem"], "wb") as f:
    f.write(ca.public_bytes(pem))
  with open(paths["leaf.pem"], "wb") as f:
    f.write(leaf.public_bytes(pem))
  with open(paths["leaf.key"], "wb") as f:
    f.write(leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()))
  return paths


# ---------------------------------------------------------------- proxy ---
def _pipe(client, backend, timeout):
  """Single-threaded select loop (no concurrent use of one SSLSocket)."""
  socks = [client, backend]
  while True:
    pending = isinstance(client, ssl.SSLSocket) and client.pending()
    r = [client] if pending else select.select(socks, [], [], timeout)[0]
    if not r:
      return  # idle timeout
    for s in r:
      try:
        data = s.recv(65536)
      except (ssl.SSLError, OSError):
        return
      if not data:
        return  # either side closed: emulator is HTTP/1.0, one request/conn
      (backend if s is client else client).sendall(data)


def _read_head(sock):
  buf = b""
  while b"\r\n\r\n" not in buf:
    chunk = sock.recv(65536)
    if not chunk:
      return None
    buf += chunk
    if len(buf) > 1 << 20:
      return None
  return buf


class _ProxyHandler(socketserver.BaseRequestHandler):

  def handle(self):
    srv = self.server
    sock = self.request
    sock.settimeout(srv.idle_timeout)
    client = None
    try:
      head = _read_head(sock)
      if head is None:
        return
      line, rest = head.split(b"\r\n", 1)
      method, target, version = line.split(b" ", 2)
      if method == b"CONNECT":
        sock.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        client = srv.ssl_ctx.wrap_socket(sock, server_side=True)
        first = _read_head(client)  # request head inside the tunnel
        if first is None:
          return
        srv.record(target.decode() + " " + first.split(b"\r\n", 1)[0].decode())
      elif target.startswith(b"http://"):
        # absolute-form through HTTP_PROXY -> origin-form
        path = b"/" + target[len(b"http://"):].split(b"/", 1)[1] if b"/" in target[7:] else b"/"
        first = b" ".join([method, path, version]) + b"\r\n" + rest
        client = sock
        srv.record("http " + first.split(b"\r\n", 1)[0].decode())
      else:
        sock.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        return
      first = srv.rewrite(first)
      # curl sends `Expect: 100-continue` on uploads and waits 1 s for the
      # interim response, which the HTTP/1.0 emulator never sends: answer it
      # here and strip the header.
      h, sep, body = first.partition(b"\r\n\r\n")
      lines = h.split(b"\r\n")
      kept = [l for l in lines if l.lower() != b"expect: 100-continue"]
      if len(kept) != len(lines):
        client.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        first = b"\r\n".join(kept) + sep + body
      if os.environ.get("FAKE_GCS_DUMP_HEADERS"):
        log.info("HEAD >>> %r", first.split(b"\r\n\r\n", 1)[0])
      backend = socket.create_connection(srv.backend, timeout=srv.idle_timeout)
      try:
        backend.sendall(first)
        _pipe(client, backend, srv.idle_timeout)
      finally:
        backend.close()
    except Exception as e:  # pylint: disable=broad-except
      log.warning("proxy error: %r", e)
    finally:
      (client or sock).close()


class _Proxy(socketserver.ThreadingTCPServer):
  daemon_threads = True
  allow_reuse_address = True

  def __init__(self, backend, leaf_pem, leaf_key, idle_timeout=30):
    super().__init__(("127.0.0.1", 0), _ProxyHandler)
    self.backend = backend
    self.idle_timeout = idle_timeout
    self.ssl_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    self.ssl_ctx.load_cert_chain(leaf_pem, leaf_key)
    self.ssl_ctx.set_alpn_protocols(["http/1.1"])  # never h2
    self.requests = []
    self._lock = threading.Lock()

  def record(self, s):
    with self._lock:
      self.requests.append(s)
    log.info("%s", s)

  def rewrite(self, head):
    return head


# ------------------------------------------------------- emulator fixes ---
def patch_emulator():
  """Small fixes to gcp-storage-emulator for the clients above."""
  from gcp_storage_emulator import server as emu_server  # pylint: disable=g-import-not-at-top
  from gcp_storage_emulator.handlers import objects as emu_objects  # pylint: disable=g-import-not-at-top
  if getattr(emu_server, "_fake_gcs_patched", False):
    return
  emu_server._fake_gcs_patched = True

  # 1. TF's resumable-upload PUT carries BOTH `Transfer-Encoding: chunked` and
  #    `Content-Length`; per RFC 7230 chunked wins, the emulator reads
  #    Content-Length bytes of raw chunk framing ("5\r\nhe").
  orig_read_raw = emu_server._read_raw_data
  def _read_raw_data(handler):
    te = handler.headers.get("Transfer-Encoding", "")
    if te.lower() == "chunked" and handler.headers.get("Content-Length"):
      del handler.headers["Content-Length"]
    return orig_read_raw(handler)
  emu_server._read_raw_data = _read_raw_data

  # 2. tf.io.gfile.makedirs uploads an empty "dir/" object with
  #    uploadType=media and no body -> request.data is None -> TypeError
  #    (emulator drops the connection: curl error 52 "Empty reply").
  orig_media = emu_objects._media_upload
  def _media_upload(request, response, storage):
    if request.data is None:
      request._data = b""
    return orig_media(request, response, storage)
  emu_objects._media_upload = _media_upload

  # 3. TF 2.21's directory rename (RenameFile on a "dir", used by tfds'
  #    incomplete_dir -> final dir) first asks
  #    GET /storage/v1/b/{bucket}/storageLayout (hierarchical-namespace check,
  #    to decide on renameFolder); the emulator has no such route (falls into
  #    the /{bucket}/{object} download route -> 404) and TF fails the rename.
  def _storage_layout(request, response, storage, *a, **k):
    bucket = request.params["bucket_name"]
    if not storage.get_bucket(bucket):
      response.status = 404
      return
    response.json({"kind": "storage#storageLayout", "bucket": bucket,
                   "location": "US", "locationType": "multi-region",
                   "hierarchicalNamespace": {"enabled": False}})

  # 4. (gcsfs only, not TF) gcsfs' mv first tries the newer
  #    POST /b/{b}/o/{src}/moveTo/o/{dst}; emulator answers 501, which gcsfs
  #    RETRIES with backoff (~35 s) before falling back to copy+delete.
  def _move_to(request, response, storage, *a, **k):
    p = request.params
    try:
      obj = emu_objects._copy(request.base_url, storage, p["bucket_name"],
                              p["object_id"], p["bucket_name"],
                              p["dest_object_id"])
      storage.delete_file(p["bucket_name"], p["object_id"])
      response.json(obj)
    except emu_objects.NotFound:
      response.status = 404

  # 5. tensorstore reads the generation of an object's bytes from
  #    `x-goog-generation` (OCDBT's manifest is read-modify-written); the
  #    emulator does not send it ("Malformed StorageGeneration").
  orig_download = emu_objects.download
  def download(request, response, storage, *a, **k):
    orig_download(request, response, storage, *a, **k)
    try:
      obj = storage.get_file_obj(request.params["bucket_name"], request.params["object_id"])
    except emu_objects.NotFound:
      return
    response["x-goog-generation"] = str(obj["generation"])
    response["x-goog-metageneration"] = str(obj.get("metageneration", "1"))
  emu_objects.download = download
  for _, methods in emu_server.HANDLERS:
    for method, handler in list(methods.items()):
      if handler is orig_download:
        methods[method] = download

  emu_server.HANDLERS = (
      (r"^/storage/v1/b/(?P<bucket_name>[-.\w]+)/storageLayout$",
       {emu_server.GET: _storage_layout}),
      (r"^/storage/v1/b/(?P<bucket_name>[-.\w]+)/o/(?P<object_id>.*[^/]+)"
       r"/moveTo/o/(?P<dest_object_id>.*[^/]+)$",
       {emu_server.POST: _move_to}),
  ) + tuple(emu_server.HANDLERS)


# ---------------------------------------------------------------- glue ----
class FakeGcs:
  """Starts emulator (in-memory, this process, own thread) + MITM proxy."""

  def __init__(self, workdir, buckets=("bucket",)):
    self.workdir = workdir
    self.buckets = list(buckets)

  def start(self):
    from gcp_storage_emulator.server import create_server  # pylint: disable=g-import-not-at-top
    from gcp_storage_emulator.handlers.buckets import create_bucket  # pylint: disable=g-import-not-at-top
    t0 = time.time()
    patch_emulator()
    os.makedirs(self.workdir, exist_ok=True)
    self.emu = create_server("127.0.0.1", 0, in_memory=True)
    self.emu.start()
    self.emu_port = self.emu._api._httpd.server_address[1]  # pylint: disable=protected-access
    for b in self.buckets:
      create_bucket(b, self.emu._storage)  # pylint: disable=protected-access
    self.paths = make_certs(self.workdir)
    self.proxy = _Proxy(("127.0.0.1", self.emu_port),
                        self.paths["leaf.pem"], self.paths["leaf.key"])
    self.proxy_port = self.proxy.server_address[1]
    self._pt = threading.Thread(target=self.proxy.serve_forever, daemon=True)
    self._pt.start()
    self.startup_s = time.time() - t0
    return self

  def stop(self):
    self.proxy.shutdown()
    self.proxy.server_close()
    self.emu.stop()

  __enter__ = start

  def __exit__(self, *a):
    self.stop()

  def env(self):
    proxy = f"http://127.0.0.1:{self.proxy_port}"
    return {
        # TF gs:// (libcurl) -> MITM proxy -> emulator
        "HTTPS_PROXY": proxy, "https_proxy": proxy,
        "HTTP_PROXY": proxy, "http_proxy": proxy,  # resumable Location is http://
        "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
        "CURL_CA_BUNDLE": self.paths["ca.pem"],
        "GOOGLE_AUTH_TOKEN_FOR_TESTING": "dummy-token",
        "NO_GCE_CHECK": "true",
        # fail fast instead of TF's default 10 retries w/ exponential backoff
        "GCS_RETRY_CONFIG_MAX_RETRIES": "2",
        "GCS_RETRY_CONFIG_INIT_DELAY_TIME_US": "1000",
        "GCS_RETRY_CONFIG_MAX_DELAY_TIME_US": "10000",
        "GCS_REQUEST_CONNECTION_TIMEOUT_SECS": "10",
        # non-TF clients (gcsfs, tensorstore, google-cloud-storage): direct
        "STORAGE_EMULATOR_HOST": f"http://127.0.0.1:{self.emu_port}",
        "TENSORSTORE_GCS_HTTP_URL": f"http://127.0.0.1:{self.emu_port}",
    }


def spawn(workdir, buckets=("bucket",), python=sys.executable, extra_path=(),
          timeout=30):
  """Runs FakeGcs in a SUBPROCESS; returns (Popen, env dict).

  Must be out-of-process when the caller is the TF process: some TF pybind
  calls hold the GIL while doing GCS I/O (e.g. TFRecordWriter.flush(), used by
  tfds' writer), so an emulator thread in the same interpreter deadlocks.
  Caller: proc.terminate(); proc.wait().
  """
  import subprocess  # pylint: disable=g-import-not-at-top
  env = dict(os.environ)
  env["PYTHONPATH"] = os.pathsep.join(
      [os.path.dirname(os.path.abspath(__file__))] + list(extra_path)
      + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
  os.makedirs(workdir, exist_ok=True)
  errlog = open(os.path.join(workdir, "fake_gcs.log"), "wb")
  proc = subprocess.Popen(
      [python, os.path.abspath(__file__), workdir, *buckets],
      stdout=subprocess.PIPE, stderr=errlog, env=env)
  r, _, _ = select.select([proc.stdout], [], [], timeout)
  line = proc.stdout.readline() if r else b""
  if not line:
    proc.kill()
    raise RuntimeError("fake_gcs did not start; see %s" % errlog.name)
  d = json.loads(line)
  d.pop("startup_s", None)
  return proc, d


@contextlib.contextmanager
def running(workdir, buckets=("bucket",)):
  """Serves `buckets` while the block runs; yields the environment variables
  a process needs to use them (for TF, gcsfs and tensorstore alike)."""
  proc, env = spawn(workdir, buckets)
  env.update({
      "GOOGLE_CLOUD_PROJECT": "test",
      "FSSPEC_GCS_TOKEN": "anon",  # gcsfs: no credentials.
      "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false",  # Its gRPC probes bypass the emulator.
      "GCS_STAT_CACHE_MAX_AGE": "0",  # TF: see another process's writes at once.
  })
  try:
    yield env
  finally:
    proc.terminate()
    proc.wait(timeout=30)


if __name__ == "__main__":
  logging.basicConfig(level=logging.INFO if os.environ.get("FAKE_GCS_VERBOSE")
                      else logging.WARNING, stream=sys.stderr)
  fg = FakeGcs(sys.argv[1], sys.argv[2:] or ["bucket"]).start()
  print(json.dumps(dict(fg.env(), startup_s=round(fg.startup_s, 3))), flush=True)
  try:
    while True:
      time.sleep(3600)
  except KeyboardInterrupt:
    fg.stop()
