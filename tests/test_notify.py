"""The office's notifier (``piak.workflow.notify.OfficeNotifier``) through the channels configured
as Airflow Connections: e-mail to a real SMTP server on loopback (aiosmtpd) and a chat group
through the telegram provider to a local HTTP endpoint standing in for the Bot API. Messages
in Bahasa Indonesia, with the link to act on, NIKs masked; one channel down does not stop the
other."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar
from urllib.parse import parse_qs

import pytest
from mail_helpers import smtp_server
from sop_helpers import RunTI

from piak.workflow import notify

NIK = "3201010101900001"


@pytest.fixture
def smtp(monkeypatch):
    with smtp_server() as inbox:
        monkeypatch.setenv("AIRFLOW_CONN_PIAK_SMTP", inbox.connection)
        yield inbox


class BotApi(BaseHTTPRequestHandler):
    """The Bot API's sendMessage, as api.telegram.org answers it."""

    sent: ClassVar[list[dict]] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        kind = self.headers.get("Content-Type", "")
        fields = json.loads(body) if "json" in kind else {k: v[0] for k, v in
                                                          parse_qs(body).items()}  # fmt: skip
        method = self.path.rsplit("/", 1)[-1]
        BotApi.sent.append({"path": self.path, "method": method, **fields})
        result = {"message_id": len(BotApi.sent), "date": 0,
                  "chat": {"id": int(fields.get("chat_id", 0)), "type": "group"},
                  "text": fields.get("text", "")}  # fmt: skip
        payload = json.dumps({"ok": True, "result": result}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):  # quiet
        pass


@pytest.fixture
def chat(monkeypatch):
    BotApi.sent = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), BotApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        conn = {
            "conn_type": "telegram",
            "host": "-1001234567890",
            "password": "123456:TOKEN-UJI",
            "extra": {"base_url": f"http://127.0.0.1:{server.server_port}/bot"},
        }
        monkeypatch.setenv("AIRFLOW_CONN_PIAK_TELEGRAM", json.dumps(conn))
        yield BotApi.sent
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def _ui(monkeypatch, tmp_path):
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "airflow_home"))
    monkeypatch.setenv("PIAK_AIRFLOW_URL", "http://127.0.0.1:8080")


def waiting_signoff() -> dict:
    ti = RunTI("receive_copy_kabid")
    ti.dag_id, ti.run_id = "backup_handover", "handover__siak_20261202T2300"
    message = f"Langkah 7 menunggu Kepala Bidang PIAK sejak 2 jam (pemohon NIK {NIK})."
    return {"ti": ti, "piak_message": message}


def test_a_reminder_reaches_the_office_by_mail_and_chat_with_the_link_to_answer(smtp, chat):
    notify.OfficeNotifier(title="Serah terima backup SIAK").notify(waiting_signoff())

    link = ("http://127.0.0.1:8080/dags/backup_handover/runs/handover__siak_20261202T2300/"
            "tasks/receive_copy_kabid/required_actions")  # fmt: skip
    (mail,) = smtp.messages
    assert smtp.recipients == [["kasi@disdukcapil.example", "kabid@disdukcapil.example"]]
    assert mail["Subject"] == "[PIAK Ops] Serah terima backup SIAK: menunggu tanda tangan"
    assert mail["From"] == "piak-ops@disdukcapil.example"
    text = mail.get_body(("html", "plain")).get_content()
    assert "Langkah 7 menunggu Kepala Bidang PIAK" in text and link in text
    assert NIK not in text and "[NIK disamarkan]" in text

    (sent,) = chat
    assert sent["path"] == "/bot123456:TOKEN-UJI/sendMessage" and sent["method"] == "sendMessage"
    assert str(sent["chat_id"]) == "-1001234567890" and sent["parse_mode"] == "HTML"
    assert "<b>[PIAK Ops] Serah terima backup SIAK: menunggu tanda tangan</b>" in sent["text"]
    assert link in sent["text"] and NIK not in sent["text"]


def test_a_reminder_goes_to_those_who_may_answer_when_they_have_addresses(smtp):
    holders = ["kabid.nama@disdukcapil.example", "plh.kabid@disdukcapil.example"]
    reminder = waiting_signoff() | {"piak_recipients": holders, "piak_office_too": False}
    notify.OfficeNotifier(title="Serah terima backup SIAK").notify(reminder)
    assert smtp.recipients == [holders], "not the office's shared list"
    # someone else who may answer has no address: the office's list hears of it too
    reminder |= {"piak_office_too": True}
    notify.OfficeNotifier(title="Serah terima backup SIAK").notify(reminder)
    assert smtp.recipients[1] == [*holders, "kasi@disdukcapil.example", "kabid@disdukcapil.example"]


def test_a_failure_names_the_step_and_links_to_it(smtp):
    ti = RunTI("export_backup")
    ti.dag_id, ti.run_id = "backup_database", "scheduled__2026-12-02T16:00:00+00:00"
    failure = {"ti": ti, "exception": RuntimeError("disk penuh: /srv/backup")}
    notify.OfficeNotifier(title="Backup database SIAK").notify(failure)
    (mail,) = smtp.messages
    assert mail["Subject"] == "[PIAK Ops] Backup database SIAK gagal"
    text = mail.get_body(("html", "plain")).get_content()
    assert "gagal pada langkah export_backup" in text and "disk penuh" in text
    run = "scheduled__2026-12-02T16%3A00%3A00%2B00%3A00"
    assert f"/dags/backup_database/runs/{run}/tasks/export_backup" in text
    assert "required_actions" not in text


def test_without_connections_it_only_logs(caplog):
    notify.OfficeNotifier(title="Backup database SIAK").notify(waiting_signoff())
    assert "PERINGATAN: Backup database SIAK: Langkah 7 menunggu" in caplog.text
    assert NIK not in caplog.text


def test_a_chat_that_is_down_does_not_stop_the_mail(smtp, monkeypatch, caplog):
    conn = {"conn_type": "telegram", "host": "-1", "password": "1:X",
            "extra": {"base_url": "http://127.0.0.1:9/bot"}}  # fmt: skip
    monkeypatch.setenv("AIRFLOW_CONN_PIAK_TELEGRAM", json.dumps(conn))
    notify.OfficeNotifier(title="Serah terima backup SIAK").notify(waiting_signoff())
    assert len(smtp.messages) == 1
    assert "Pemberitahuan lewat chat gagal" in caplog.text


def test_a_message_to_an_e_mail_contact_is_mailed_to_that_address_only(smtp):
    message = notify.Message("pelapor@kecamatan.example", "Jawaban keluhan", "Sudah pulih.")
    receipt = notify.OfficeNotifier(title="Layanan bantuan SIAK").send(message)
    assert receipt == "dikirim lewat e-mail ke pelapor@kecamatan.example"
    assert smtp.recipients == [["pelapor@kecamatan.example"]]
    assert "Sudah pulih." in smtp.messages[0].get_body(("html", "plain")).get_content()


def test_a_contact_typed_by_a_reporter_never_reaches_the_office_s_list(smtp):
    for contact in ("kantor", "a@x.example, b@y.example"):
        notify.OfficeNotifier(title="Layanan bantuan SIAK").send(
            notify.Message(contact, "Jawaban keluhan", "Sudah pulih.")
        )
    assert smtp.recipients == [], "only logged: not one address of the reporter's"
