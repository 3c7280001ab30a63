"""s3:// URLs against a real S3 server: moto_server on loopback with SigV4
authentication switched on (s3_server.py), read through the
weightstream-cloud plugin.

Loads must be byte-equal to loading the same files locally; bad
credentials, missing keys and injected faults must give the specific error
(naming the URL, never the secret) or the exact data -- never wrong data.
"""

from __future__ import annotations

import concurrent.futures
import json
import os

import numpy as np
import pytest
import safetensors.numpy
from s3_server import Credentials, FaultProxy, MotoS3

pytest.importorskip("moto")
pytest.importorskip("boto3")

import weightstream as ws  # noqa: E402
from weightstream import _remote  # noqa: E402

BUCKET = "models"
SECRET_MARK = "TOPSECRET"


def _find_plugin() -> str | None:
    """The plugin library: WEIGHTSTREAM_CLOUD_LIBRARY, the installed
    weightstream_cloud package, or the Bazel-built one in runfiles."""
    env = os.environ.get(_remote.CLOUD_LIBRARY_ENV)
    if env:
        return env
    try:
        import weightstream_cloud  # noqa: PLC0415

        if os.path.exists(weightstream_cloud.library_path()):
            return weightstream_cloud.library_path()
    except ImportError:
        pass
    for root in (os.environ.get("RUNFILES_DIR"), os.environ.get("TEST_SRCDIR")):
        if root:
            for ws_name in ("weightstream", "_main"):
                p = os.path.join(root, ws_name, "cpp/plugins/cloud/libweightstream_cloud.so")
                if os.path.exists(p):
                    return p
    return None


PLUGIN = _find_plugin()
if PLUGIN is None:
    # tools/test.sh sets WEIGHTSTREAM_EXPECT_CLOUD=1: there a missing plugin
    # is a failure, not a skip.
    if os.environ.get("WEIGHTSTREAM_EXPECT_CLOUD") == "1":
        raise RuntimeError("WEIGHTSTREAM_EXPECT_CLOUD=1 but the cloud plugin cannot be found")
    pytest.skip("the cloud plugin (weightstream-cloud) is not available", allow_module_level=True)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """No AWS settings from the machine; HOME without ~/.aws; the plugin."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    if PLUGIN and not os.environ.get(_remote.CLOUD_LIBRARY_ENV):
        monkeypatch.setenv(_remote.CLOUD_LIBRARY_ENV, PLUGIN)


@pytest.fixture(scope="module")
def s3(tmp_path_factory) -> MotoS3:
    with MotoS3(str(tmp_path_factory.mktemp("moto"))) as server:
        server.client().create_bucket(Bucket=BUCKET)
        yield server


@pytest.fixture(scope="module")
def checkpoint(s3: MotoS3, tmp_path_factory):
    """A 3-shard checkpoint with an index, uploaded under ckpt/ (and the
    shards alone under noindex/); returns the local directory."""
    d = tmp_path_factory.mktemp("ckpt")
    rng = np.random.default_rng(7)
    shards = {
        "model-00001-of-00003.safetensors": {
            "embed": rng.standard_normal((512, 1024)).astype(np.float32),  # 2 MiB
            "norm": rng.standard_normal(1024).astype(np.float16),
        },
        "model-00002-of-00003.safetensors": {
            "layer.0.w": rng.integers(-128, 127, (1500, 1000), dtype=np.int8),
            "layer.0.b": rng.standard_normal(7).astype(np.float64),
            "scalar": np.array(3, dtype=np.int64),
        },
        "model-00003-of-00003.safetensors": {
            "lm_head": rng.standard_normal((700, 1024)).astype(np.float32),
            "empty": np.zeros((0, 4), dtype=np.float32),
        },
    }
    weight_map = {}
    for name, tensors in shards.items():
        safetensors.numpy.save_file(tensors, str(d / name), metadata={"shard": name})
        weight_map.update({t: name for t in tensors})
    (d / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {"total_size": 0}, "weight_map": weight_map})
    )
    client = s3.client()
    for f in sorted(os.listdir(d)):
        client.upload_file(str(d / f), BUCKET, f"ckpt/{f}")
        if f.endswith(".safetensors"):
            client.upload_file(str(d / f), BUCKET, f"noindex/{f}")
    return d


def opts(s3: MotoS3, **extra):
    return {"endpoint_url": s3.endpoint, **s3.credentials.options(), **extra}


def assert_same(got: dict, want: dict) -> None:
    assert sorted(got) == sorted(want)
    for k in want:
        assert got[k].dtype == want[k].dtype, k
        assert got[k].shape == want[k].shape, k
        assert got[k].tobytes() == want[k].tobytes(), k


def local(checkpoint, name: str = "model.safetensors.index.json") -> dict:
    return ws.load_file(str(checkpoint / name))


# --- loading ---------------------------------------------------------------


def test_index_loads_byte_equal_to_local(s3, checkpoint) -> None:
    got = ws.load_file(
        f"s3://{BUCKET}/ckpt/model.safetensors.index.json", options=opts(s3), chunk_size=1 << 20
    )
    assert_same(got, local(checkpoint))


def test_prefix_with_index_and_without(s3, checkpoint) -> None:
    want = local(checkpoint)
    assert_same(ws.load_file(f"s3://{BUCKET}/ckpt/", options=opts(s3)), want)
    assert_same(ws.load_file(f"s3://{BUCKET}/noindex/", options=opts(s3)), want)


def test_single_shard_and_slices(s3, checkpoint) -> None:
    name = "model-00002-of-00003.safetensors"
    url = f"s3://{BUCKET}/ckpt/{name}"
    assert_same(ws.load_file(url, options=opts(s3)), local(checkpoint, name))
    want = local(checkpoint, name)["layer.0.w"]
    with ws.open(url, options=opts(s3)) as f:
        assert f.metadata() == {"shard": name}
        np.testing.assert_array_equal(f.get_slice("layer.0.w")[100:103], want[100:103])


def test_streamer_over_shards(s3, checkpoint) -> None:
    urls = [f"s3://{BUCKET}/noindex/model-0000{i}-of-00003.safetensors" for i in (1, 2, 3)]
    with ws.SafetensorsStreamer(concurrency=4) as s:
        s.stream_files(urls, options=opts(s3))
        got = {name: np.array(t) for name, t in s.get_tensors()}
    assert_same(got, local(checkpoint))


def test_listing_follows_continuation_tokens(s3) -> None:
    client = s3.client()
    keys = [f"many/obj-{i:05d}" for i in range(1003)]  # > 1000: two pages
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: client.put_object(Bucket=BUCKET, Key=k, Body=b"x" * 3), keys))
    listed = _remote.list_prefix(f"s3://{BUCKET}/many/", opts(s3))
    assert [u for u, _ in listed] == [f"s3://{BUCKET}/{k}" for k in keys]
    assert {size for _, size in listed} == {3}


# --- credentials -------------------------------------------------------------


def test_wrong_secret_is_a_clear_403_without_the_secret(s3, checkpoint) -> None:
    url = f"s3://{BUCKET}/ckpt/model-00001-of-00003.safetensors"
    bad = opts(s3, secret_access_key=SECRET_MARK + "x" * 30)
    with pytest.raises(PermissionError) as e:
        ws.load_file(url, options=bad)
    msg = str(e.value)
    assert url in msg
    assert "403" in msg and "SignatureDoesNotMatch" in msg
    assert SECRET_MARK not in msg and SECRET_MARK not in repr(e.value)
    assert s3.credentials.secret_access_key not in msg


def test_unknown_access_key_is_403(s3, checkpoint) -> None:
    with pytest.raises(PermissionError, match="InvalidAccessKeyId"):
        ws.load_file(
            f"s3://{BUCKET}/ckpt/model-00001-of-00003.safetensors",
            options={
                "endpoint_url": s3.endpoint,
                "access_key_id": "AKIANOBODY",
                "secret_access_key": SECRET_MARK,
            },
        )


def test_no_credentials_says_where_it_looked(s3, checkpoint) -> None:
    url = f"s3://{BUCKET}/ckpt/model-00001-of-00003.safetensors"
    with pytest.raises(PermissionError) as e:
        ws.load_file(url, options={"endpoint_url": s3.endpoint})
    msg = str(e.value)
    assert url in msg and "no AWS credentials were found" in msg
    assert "AWS_ACCESS_KEY_ID" in msg and ".aws/credentials" in msg


def test_missing_key_and_bucket_are_file_not_found(s3, checkpoint) -> None:
    with pytest.raises(FileNotFoundError, match=f"s3://{BUCKET}/ckpt/nope.safetensors.*404"):
        ws.load_file(f"s3://{BUCKET}/ckpt/nope.safetensors", options=opts(s3))
    with pytest.raises(FileNotFoundError, match="NoSuchBucket"):
        ws.load_file("s3://no-such-bucket/x.safetensors", options=opts(s3))


def test_credentials_from_shared_files_and_profile(s3, checkpoint, tmp_path, monkeypatch) -> None:
    c = s3.credentials
    creds = tmp_path / "credentials"
    creds.write_text(
        "[default]\naws_access_key_id = AKIAWRONG\naws_secret_access_key = wrong\n\n"
        f"[dev]\naws_access_key_id = {c.access_key_id}\n"
        f"aws_secret_access_key = {c.secret_access_key}\n"
    )
    config = tmp_path / "config"
    config.write_text("[profile dev]\nregion = us-east-1\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3.endpoint)
    url = f"s3://{BUCKET}/ckpt/model-00003-of-00003.safetensors"
    # The default profile's key is wrong: the error says where it came from.
    with pytest.raises(PermissionError, match="profile 'default'"):
        ws.load_file(url)
    monkeypatch.setenv("AWS_PROFILE", "dev")
    assert_same(ws.load_file(url), local(checkpoint, "model-00003-of-00003.safetensors"))
    monkeypatch.setenv("AWS_PROFILE", "nope")
    with pytest.raises(ValueError, match="profile 'nope'"):
        ws.load_file(url)


def test_credentials_from_environment(s3, checkpoint, monkeypatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3.credentials.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3.credentials.secret_access_key)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3.endpoint)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    url = f"s3://{BUCKET}/ckpt/model-00003-of-00003.safetensors"
    assert_same(ws.load_file(url), local(checkpoint, "model-00003-of-00003.safetensors"))


def test_session_token_from_sts(s3, checkpoint) -> None:
    iam = s3.client("iam")
    role = iam.create_role(
        RoleName="reader",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}
                ],
            }
        ),
    )["Role"]
    iam.put_role_policy(
        RoleName="reader",
        PolicyName="s3",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
            }
        ),
    )
    sts = s3.client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="test")["Credentials"]
    temp = Credentials(sts["AccessKeyId"], sts["SecretAccessKey"], sts["SessionToken"])
    url = f"s3://{BUCKET}/ckpt/model-00001-of-00003.safetensors"
    got = ws.load_file(url, options={"endpoint_url": s3.endpoint, **temp.options()})
    assert_same(got, local(checkpoint, "model-00001-of-00003.safetensors"))
    # The temporary key is refused without its session token.
    no_token = {"endpoint_url": s3.endpoint, **temp.options()}
    del no_token["session_token"]
    with pytest.raises(PermissionError, match="403"):
        ws.load_file(url, options=no_token)


def test_bad_options_name_the_key(s3) -> None:
    url = f"s3://{BUCKET}/ckpt/model-00001-of-00003.safetensors"
    with pytest.raises(ValueError, match="unknown key 'endpoint'"):
        ws.load_file(url, options={"endpoint": s3.endpoint})
    with pytest.raises(ValueError, match="'max_retries' must be an integer"):
        ws.load_file(url, options=opts(s3, max_retries="3"))
    with pytest.raises(ValueError, match="must be given together"):
        ws.load_file(url, options={"endpoint_url": s3.endpoint, "access_key_id": "A"})


# --- faults ------------------------------------------------------------------


@pytest.fixture()
def proxy(s3):
    with FaultProxy(s3.port) as p:
        yield p


@pytest.mark.parametrize("mode", FaultProxy.MODES)
def test_faults_are_retried_to_the_exact_bytes(s3, checkpoint, proxy, mode) -> None:
    proxy.inject(mode, mode, mode)
    got = ws.load_file(
        f"s3://{BUCKET}/ckpt/model.safetensors.index.json",
        options=opts(s3, endpoint_url=proxy.endpoint),
        chunk_size=1 << 20,
    )
    assert proxy.faulted == 3 and proxy.pending() == 0
    assert_same(got, local(checkpoint))


@pytest.mark.parametrize("mode", ["drop", "truncate", "reset"])
def test_faults_past_the_retries_fail(s3, checkpoint, proxy, mode) -> None:
    proxy.inject(*[mode] * 50)
    url = f"s3://{BUCKET}/ckpt/model-00001-of-00003.safetensors"
    with pytest.raises(OSError) as e:
        ws.load_file(url, options=opts(s3, endpoint_url=proxy.endpoint, max_retries=2))
    msg = str(e.value)
    assert url in msg and "bytes " in msg and "3 attempts" in msg
    assert s3.credentials.secret_access_key not in msg


def test_slowdown_past_the_retries_names_the_code(s3, checkpoint, proxy) -> None:
    proxy.inject(*["slowdown"] * 50)
    url = f"s3://{BUCKET}/ckpt/model-00001-of-00003.safetensors"
    with pytest.raises(OSError, match=r"HTTP 503 'SlowDown'.*gave up after 2 attempts"):
        ws.load_file(url, options=opts(s3, endpoint_url=proxy.endpoint, max_retries=1))


def test_object_replaced_after_open_is_an_error(s3, tmp_path) -> None:
    client = s3.client()
    a = {"t": np.arange(1 << 18, dtype=np.float32)}
    b = {"t": np.arange(1 << 18, dtype=np.float32)[::-1].copy()}  # same size and header
    pa, pb = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    safetensors.numpy.save_file(a, str(pa))
    safetensors.numpy.save_file(b, str(pb))
    assert pa.stat().st_size == pb.stat().st_size
    client.upload_file(str(pa), BUCKET, "replaced/m.safetensors")
    url = f"s3://{BUCKET}/replaced/m.safetensors"
    with ws.open(url, options=opts(s3)) as f:
        client.upload_file(str(pb), BUCKET, "replaced/m.safetensors")
        with pytest.raises(OSError, match="changed"):
            f.get_tensor("t")
    # Opened afresh, it is the new object, whole.
    np.testing.assert_array_equal(ws.load_file(url, options=opts(s3))["t"], b["t"])
