"""Hostile or broken frontends: nothing they send crashes the kernel; drops are logged."""
import json
import os
import time
import uuid

import pytest
import zmq
from jupyter_client.manager import KernelManager
from jupyter_client.session import Session

import kernelspec_env

TIMEOUT = 20


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    log = tmp_path_factory.mktemp("log") / "kernel.log"
    logf = open(log, "w")
    km = KernelManager(kernel_name=kernelspec_env.KERNEL_NAME)
    km.start_kernel(stderr=logf)
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=TIMEOUT)
    yield km, kc, log
    kc.stop_channels()
    km.shutdown_kernel(now=True)
    logf.close()


@pytest.fixture
def raw(kernel):
    """A DEALER on the shell port, for frames a normal client would never send."""
    km, _, _ = kernel
    ctx = zmq.Context.instance()
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.IDENTITY, uuid.uuid4().hex.encode())
    s.setsockopt(zmq.LINGER, 0)
    s.connect(f"{km.transport}://{km.ip}:{km.shell_port}")
    yield s
    s.close()


def alive(kc):
    kc.kernel_info()
    reply = kc.get_shell_msg(timeout=TIMEOUT)
    assert reply["msg_type"] == "kernel_info_reply" and reply["content"]["status"] == "ok"


def no_reply(sock, wait=0.5):
    return sock.poll(int(wait * 1000)) == 0


def signed(km, msg_type, content=None):
    session = Session(key=km.session.key, signature_scheme=km.session.signature_scheme)
    msg = session.msg(msg_type, content or {})
    return session, session.serialize(msg)


def log_count(log, text):
    return log.read_text().count(text)


def log_has(log, text, wait=2.0):
    return log_gains(log, text, 0, wait)


def log_gains(log, text, before, wait=5.0):
    """Whether the kernel log comes to hold text more than before times:
    the file is read until the kernel's line appears or the deadline (a
    log file gives no event to wait on)."""
    deadline = time.time() + wait
    while time.time() < deadline:
        if log_count(log, text) > before:
            return True
        time.sleep(0.05)
    return False


def test_bad_signature_is_dropped_and_logged(kernel, raw):
    km, kc, log = kernel
    _, frames = signed(km, "execute_request", {"code": 'fmt.Println("pwned")', "silent": False})
    frames[1] = b"0" * 64  # frames: delimiter, signature, header, parent, metadata, content
    raw.send_multipart(frames)
    assert no_reply(raw)
    assert log_has(log, "bad or missing signature")
    alive(kc)


def test_missing_signature_is_dropped(kernel, raw):
    km, kc, log = kernel
    _, frames = signed(km, "kernel_info_request")
    frames[1] = b""
    before = log_count(log, "bad or missing signature")
    raw.send_multipart(frames)
    assert no_reply(raw)
    assert log_gains(log, "bad or missing signature", before)
    alive(kc)


def test_replay_is_rejected(kernel, raw):
    km, kc, log = kernel
    _, frames = signed(km, "kernel_info_request")
    raw.send_multipart(frames)
    assert raw.poll(TIMEOUT * 1000), "the first copy must be answered"
    raw.recv_multipart()
    raw.send_multipart(frames)
    assert no_reply(raw)
    assert log_has(log, "replayed signature")
    alive(kc)


@pytest.mark.parametrize("frames,logged", [
    ([b"garbage"], "no <IDS|MSG> delimiter"),
    ([b"<IDS|MSG>"], "fewer than 5 frames"),
    ([b"<IDS|MSG>", b"sig", b"{}"], "fewer than 5 frames"),
    ([os.urandom(256) for _ in range(7)], "no <IDS|MSG> delimiter"),
    ([b""] * 10, "no <IDS|MSG> delimiter"),
])
def test_garbage_frames(kernel, raw, frames, logged):
    _, kc, log = kernel
    before = log_count(log, logged)
    raw.send_multipart(frames)
    assert no_reply(raw, 0.2)
    assert log_gains(log, logged, before), f"the kernel did not log {logged!r}"
    alive(kc)


def test_invalid_json_signed_correctly(kernel, raw):
    km, kc, log = kernel
    session = Session(key=km.session.key, signature_scheme=km.session.signature_scheme)
    parts = [b'{"msg_id": "1", "msg_type": "execute_request"', b"{}", b"{}", b"{}"]
    raw.send_multipart([b"<IDS|MSG>", session.sign(parts)] + parts)
    assert no_reply(raw)
    assert log_has(log, "malformed")
    alive(kc)


def test_invalid_content_for_type(kernel, raw):
    km, kc, _ = kernel
    session, frames = signed(km, "execute_request", {"code": 12, "silent": "yes"})
    raw.send_multipart(frames)
    assert raw.poll(TIMEOUT * 1000)
    reply = session.deserialize(session.feed_identities(raw.recv_multipart())[1])
    while reply["msg_type"] != "execute_reply":  # busy/idle are on iopub; shell has just the reply
        reply = session.deserialize(session.feed_identities(raw.recv_multipart())[1])
    assert reply["content"]["status"] == "error"
    alive(kc)


def test_oversized_message(kernel, raw):
    km, kc, log = kernel
    big = {"code": "// " + "x" * (70 << 20), "silent": True}
    _, frames = signed(km, "execute_request", big)
    raw.send_multipart(frames)
    assert no_reply(raw, 1.0)
    alive(kc)


def test_unknown_msg_type(kernel, raw):
    km, kc, log = kernel
    _, frames = signed(km, "frobnicate_request", {"x": 1})
    raw.send_multipart(frames)
    assert no_reply(raw)
    assert log_has(log, "frobnicate_request")
    alive(kc)


def test_request_on_the_wrong_channel(kernel):
    km, kc, log = kernel
    ctx = zmq.Context.instance()
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(f"{km.transport}://{km.ip}:{km.control_port}")
    try:
        _, frames = signed(km, "execute_request", {"code": "1"})
        s.send_multipart(frames)
        assert no_reply(s)
        assert log_has(log, "does not belong")
    finally:
        s.close()
    alive(kc)


def test_heartbeat(kernel):
    km, _, _ = kernel
    ctx = zmq.Context.instance()
    s = ctx.socket(zmq.REQ)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(f"{km.transport}://{km.ip}:{km.hb_port}")
    try:
        s.send(b"ping")
        assert s.poll(TIMEOUT * 1000)
        assert s.recv() == b"ping"
    finally:
        s.close()
