// An SMSC for the tests, built on the `smpp` package from the npm registry (node-smpp), so
// smsgate's SMPP client is checked against an implementation it shares no code with.
//
//   node npm_smsc.js [--port N] [--receipt-delay MS] [--drop-every SECONDS] [--record FILE]
//
// Accepts every bind (transceiver, transmitter, receiver), answers each submit_sm with a
// fresh hex message_id and, after --receipt-delay milliseconds, sends a text-form receipt
// (`id:... stat:DELIVRD err:000 ...`, esm_class 0x04) on a bound transceiver or receiver of
// the same system_id. A receipt with no bound session to take it, or sent on a session that
// closed before its deliver_sm_resp, waits for the next bind (store and forward, as an SMSC
// does), so a dropped connection loses no receipt. With --drop-every, every connection is
// cut every that many seconds. Prints "LISTENING <port>" once it accepts connections, and a
// "STATS {...}" line on SIGUSR2. With --record, every submit_sm's destination_addr is written
// to FILE, one a line (flushed on SIGTERM), so a test can count the submits of each message.
"use strict";

const smpp = require("smpp");

function option(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? Number(process.argv[i + 1]) : fallback;
}

const port = option("--port", 0);
const receiptDelay = option("--receipt-delay", 50);
const dropEvery = option("--drop-every", 0);
const recordAt = process.argv.indexOf("--record");
const record =
  recordAt >= 0 ? require("fs").createWriteStream(process.argv[recordAt + 1], { flags: "a" }) : null;

const sessions = new Set();
const waiting = new Map(); // system_id -> receipts (deliver_sm fields) with no session yet
// bound / bound_max: sessions bound now and at most at once (two dispatchers must never
// hold one connector's binds together)
const stats = { binds: 0, submits: 0, receipts: 0, redelivered: 0, drops: 0, bound: 0, bound_max: 0 };
let nextId = 0x10a000;

function pad(n) {
  return String(n).padStart(2, "0");
}

function stamp(d) {
  return (
    pad(d.getUTCFullYear() % 100) + pad(d.getUTCMonth() + 1) + pad(d.getUTCDate()) +
    pad(d.getUTCHours()) + pad(d.getUTCMinutes())
  );
}

function receiver(systemId) {
  for (const s of sessions) {
    if (s.smscBound && s.smscSystemId === systemId && s.smscCanReceive) return s;
  }
  return null;
}

function queue(systemId, fields) {
  if (!waiting.has(systemId)) waiting.set(systemId, []);
  waiting.get(systemId).push(fields);
}

function deliver(systemId, fields) {
  const session = receiver(systemId);
  if (session === null) {
    queue(systemId, fields);
    return;
  }
  const seq = session.smscUnanswered;
  seq.add(fields);
  session.deliver_sm(fields, (resp) => {
    seq.delete(fields);
    if (resp.command_status !== 0) queue(systemId, fields);
    else stats.receipts += 1;
  });
}

function flush(systemId) {
  const held = waiting.get(systemId);
  if (!held || held.length === 0) return;
  waiting.set(systemId, []);
  for (const fields of held) deliver(systemId, fields);
}

function receiptFor(pdu, id, submitted) {
  const now = new Date();
  return {
    source_addr: pdu.destination_addr,
    source_addr_ton: pdu.dest_addr_ton,
    source_addr_npi: pdu.dest_addr_npi,
    destination_addr: pdu.source_addr,
    dest_addr_ton: pdu.source_addr_ton,
    dest_addr_npi: pdu.source_addr_npi,
    esm_class: 0x04,
    short_message:
      "id:" + id + " sub:001 dlvrd:001 submit date:" + stamp(submitted) +
      " done date:" + stamp(now) + " stat:DELIVRD err:000 text:",
  };
}

const server = smpp.createServer((session) => {
  sessions.add(session);
  session.smscBound = false;
  session.smscUnanswered = new Set();

  function bind(canReceive) {
    return (pdu) => {
      if (!session.smscBound) {
        stats.bound += 1;
        stats.bound_max = Math.max(stats.bound_max, stats.bound);
      }
      session.smscBound = true;
      session.smscSystemId = pdu.system_id;
      session.smscCanReceive = canReceive;
      stats.binds += 1;
      session.send(pdu.response({ system_id: "npm-smsc" }));
      if (canReceive) flush(pdu.system_id);
    };
  }

  session.on("bind_transceiver", bind(true));
  session.on("bind_receiver", bind(true));
  session.on("bind_transmitter", bind(false));
  session.on("enquire_link", (pdu) => session.send(pdu.response()));
  session.on("unbind", (pdu) => {
    session.send(pdu.response());
    session.close();
  });
  session.on("submit_sm", (pdu) => {
    if (!session.smscBound) {
      session.send(pdu.response({ command_status: smpp.ESME_RINVBNDSTS }));
      return;
    }
    nextId += 1;
    const id = nextId.toString(16);
    stats.submits += 1;
    if (record !== null) record.write(pdu.destination_addr + "\n");
    session.send(pdu.response({ message_id: id }));
    if (pdu.registered_delivery & 0x01) {
      const systemId = session.smscSystemId;
      const fields = receiptFor(pdu, id, new Date());
      setTimeout(() => deliver(systemId, fields), receiptDelay);
    }
  });
  session.on("error", () => {});
  session.on("close", () => {
    sessions.delete(session);
    if (session.smscBound) stats.bound -= 1;
    // Receipts sent but not acknowledged go again on the next bind.
    for (const fields of session.smscUnanswered) {
      stats.redelivered += 1;
      queue(session.smscSystemId, fields);
    }
    session.smscUnanswered.clear();
    if (session.smscSystemId !== undefined && receiver(session.smscSystemId) !== null) {
      flush(session.smscSystemId);
    }
  });
});

server.on("error", (err) => {
  process.stderr.write("npm smsc error: " + err + "\n");
  process.exit(1);
});

server.listen(port, "127.0.0.1", () => {
  process.stdout.write("LISTENING " + server.address().port + "\n");
});

if (dropEvery > 0) {
  setInterval(() => {
    stats.drops += 1;
    for (const s of Array.from(sessions)) {
      if (s.smscBound) stats.bound -= 1;
      s.smscBound = false;
      s.socket.destroy();
    }
  }, dropEvery * 1000);
}

process.on("SIGUSR2", () => {
  let held = 0;
  for (const list of waiting.values()) held += list.length;
  process.stdout.write("STATS " + JSON.stringify(Object.assign({ held }, stats)) + "\n");
});
process.on("SIGTERM", () => {
  if (record === null) process.exit(0);
  else record.end(() => process.exit(0));
});
