"""exchangelib (Debian python3-exchangelib 4.9) against Mailwarden's EWS endpoint.

Usage: exchangelib-client.py URL USER PASSWORD SCENARIO
Prints one JSON object per line: {"step": ..., ...}. Autodiscover is off, and so is TLS
verification (the server's certificate is the self-signed one of the test's data folder).
"""
import json
import sys

import urllib3
from exchangelib import BASIC, DELEGATE, Account, Configuration, Credentials, ExtendedProperty, FaultTolerance, Folder, Mailbox, Message
from exchangelib.errors import ErrorIrresolvableConflict, ErrorServerBusy, ErrorTooManyObjectsOpened
from exchangelib.protocol import BaseProtocol, NoVerifyHTTPAdapter

BaseProtocol.HTTP_ADAPTER_CLS = NoVerifyHTTPAdapter
urllib3.disable_warnings()


class FlagStatus(ExtendedProperty):
    property_tag = 0x1090
    property_type = "Integer"


class ImapUid(ExtendedProperty):
    property_tag = 0x0E23
    property_type = "Integer"


class MessageSize(ExtendedProperty):
    property_tag = 0x0E08
    property_type = "Integer"


Message.register("flag_status", FlagStatus)
Message.register("imap_uid", ImapUid)
Message.register("mapi_size", MessageSize)

url, user, password, scenario = sys.argv[1:5]


def out(step, **kw):
    print(json.dumps({"step": step, **kw}, default=str), flush=True)


def account(retry_policy=None):
    kw = {"retry_policy": retry_policy} if retry_policy else {}
    config = Configuration(service_endpoint=url, credentials=Credentials(user, password), auth_type=BASIC, **kw)
    return Account(user, config=config, autodiscover=False, access_type=DELEGATE)


if scenario == "mailbox":
    a = account()
    out("version", build=str(a.version.build), api=a.version.api_version)
    out("tree", names=sorted(f.name for f in a.root.walk()))
    # full sync of the inbox, 100 changes a call, then a delta after a change
    created = 0
    calls = 0
    for change_type, item in a.inbox.sync_items(max_changes_returned=100):
        created += change_type == "create"
    out("sync", created=created, state=bool(a.inbox.item_sync_state))
    first = a.inbox.all().order_by("datetime_received")[0]
    old_changekey = first.changekey
    out("read", subject=first.subject, is_read=first.is_read, uid=first.imap_uid, size=first.mapi_size,
        sender=first.sender.email_address if first.sender else None, body=first.body)
    first.is_read = True
    first.flag_status = 2
    first.categories = ["Work"]
    first.save(update_fields=["is_read", "flag_status", "categories"])
    again = a.inbox.get(id=first.id)
    out("flag", is_read=again.is_read, flag_status=again.flag_status, categories=again.categories,
        changekey_changed=again.changekey != old_changekey)
    stale = a.inbox.get(id=first.id)
    stale.changekey = old_changekey
    stale.is_read = False
    try:
        stale.save(update_fields=["is_read"])
        out("conflict", raised=False)
    except ErrorIrresolvableConflict:
        out("conflict", raised=True)
    delta = [(t, getattr(i, "subject", None)) for t, i in a.inbox.sync_items(sync_state=a.inbox.item_sync_state)]
    out("delta", changes=delta)
    archive = Folder(parent=a.inbox, name="Archive")
    archive.save()
    moved = again.move(archive)
    out("move", in_archive=[m.subject for m in archive.all()], id_kept=again.id == first.id)
    victim = a.inbox.all().order_by("datetime_received")[0]
    victim.delete()
    out("delete", inbox=a.inbox.all().count(), archive=archive.all().count())
    soft = a.inbox.all().order_by("datetime_received")[0]
    soft.move_to_trash()
    out("trash", trash=[m.subject for m in a.trash.all()])

elif scenario == "send":
    a = account()
    import email.mime.application
    import email.mime.multipart
    import email.mime.text
    mm = email.mime.multipart.MIMEMultipart()
    mm["Subject"] = "report with attachment"
    mm["From"] = user
    mm["To"] = sys.argv[5]
    mm.attach(email.mime.text.MIMEText("see attached"))
    att = email.mime.application.MIMEApplication(b"%PDF-1.4 test bytes")
    att.add_header("Content-Disposition", "attachment", filename="report.pdf")
    mm.attach(att)
    Message(account=a, folder=a.sent, mime_content=mm.as_bytes(), to_recipients=[Mailbox(email_address=sys.argv[5])]).send_and_save()
    sent = list(a.sent.all())
    out("sent", subjects=[m.subject for m in sent], attachments=[x.name for m in sent for x in m.attachments],
        content=[x.content.decode() for m in sent for x in m.attachments])
    Message(account=a, subject="plain note", body="hello bob", to_recipients=[Mailbox(email_address=sys.argv[5])]).send()
    out("sent-fields")
    out("resolve", names=[str(r.email_address) for r in a.protocol.resolve_names([sys.argv[5].split("@")[0]])])

elif scenario == "at-the-limit":
    # fail fast: the refusal reaches this script, which retries once told a session was freed
    try:
        account().inbox.all().count()
        out("refused", code=None)
    except (ErrorServerBusy, ErrorTooManyObjectsOpened) as e:
        out("refused", code=type(e).__name__, text=str(e))
    sys.stdin.readline()  # the test frees a session, then says so
    out("retried", inbox=account().inbox.all().count())

if scenario == "streaming":
    # a streaming subscription on the inbox; the test delivers a message once "listening" is printed
    a = account()
    sub = a.inbox.subscribe_to_streaming()
    out("listening")
    seen = []
    new_id = None
    # (the stream holds the client's one HTTP session: read the item after leaving the stream)
    for notification in a.inbox.get_streaming_events(sub, connection_timeout=3):  # minutes: the wait for the event on a loaded machine
        for event in notification.events:
            seen.append(type(event).__name__)
            if type(event).__name__ == "NewMailEvent":
                new_id = event.item_id.id
        if new_id:
            break
    if new_id:
        out("new-mail", subject=a.inbox.get(id=new_id).subject, events=seen)
        a.inbox.unsubscribe(sub)
        sys.exit(0)
    out("stream-ended", events=seen)

if scenario == "resume":
    # a first sync page by page through the service itself, so that it can stop between pages:
    # one page, then (after the test changed the folder) a new Account resumes from the saved
    # SyncState, as a client restarted between pages does; the changes are applied to a copy
    from exchangelib.fields import FieldPath
    from exchangelib.items import ID_ONLY
    from exchangelib.services import SyncFolderItems

    def page(acct, state, size):
        folder = acct.inbox
        fields = {FieldPath(field=f) for f in folder.allowed_item_fields(version=acct.version)}
        svc = SyncFolderItems(account=acct)
        changes = list(svc.call(folder=folder, shape=ID_ONLY, additional_fields=fields, sync_state=state, ignore=None,
                                max_changes_returned=size, sync_scope=None))
        return changes, svc.sync_state, svc.includes_last_item_in_range

    copy = {}

    def apply(changes):
        for kind, item in changes:
            if kind == "delete":
                copy.pop(item.id, None)
            elif kind == "read_flag_change":
                copy[item[0].id][1] = item[1]
            else:
                copy[item.id] = [item.subject, item.is_read, item.flag_status]

    changes, state, last = page(account(), None, 10)
    apply(changes)
    out("paused", ids=sorted(copy), last=last, state=state)
    sys.stdin.readline()
    a = account()
    pages = 1
    while not last:
        changes, state, last = page(a, state, int(sys.argv[5]))
        apply(changes)
        pages += 1
    out("synced", pages=pages, items={k: v for k, v in copy.items()})

if scenario == "pull":
    a = account()
    sub, watermark = a.inbox.subscribe_to_pull()
    out("subscribed")
    sys.stdin.readline()
    events = []
    for notification in a.inbox.get_events(sub, watermark):
        events += [type(e).__name__ for e in notification.events]
    out("events", events=events)
    a.inbox.unsubscribe(sub)
