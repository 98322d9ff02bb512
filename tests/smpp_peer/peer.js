// A third-party SMSC for our tests, built on npm's `smpp` (node-smpp): someone else's PDU
// decoder checks our encoding, and someone else's encoder feeds our decoder.
//
//   node peer.js            listens on a free loopback port
//
// stdout, one JSON object a line:
//   {"event":"listening","port":N}
//   {"event":"bound","command":"bind_transceiver","system_id":"..."}
//   {"event":"submit_sm","destination_addr":..,"data_coding":..,"message":"decoded text",
//    "udh":["0500030a0301"],"sar":[ref,total,seq]|null,"ussd_service_op":..,"its_session_info":..,
//    "validity_period":"ISO time"|null,"message_id":".."}
//   {"event":"deliver_sm_resp","sequence_number":N,"command_status":S}
//   {"event":"enquire_link_resp"} / {"event":"unbind_resp"} / {"event":"closed"}
// stdin, one JSON command a line:
//   {"cmd":"deliver","source_addr":"79161234567","text":"...","data_coding":0|3|8,
//    "udh":"050003..."?, "ussd_service_op":1?, "its_session_info":"0a01"?}
//   {"cmd":"receipt","message_id":"..","state":2}
//   {"cmd":"enquire_link"} / {"cmd":"unbind"}
'use strict';

const readline = require('readline');
const smpp = require('smpp');

let session = null;
let nextId = 0x2a000;

function emit(event) {
	process.stdout.write(JSON.stringify(event) + '\n');
}

function describeSubmit(pdu, messageId) {
	const body = pdu.message_payload || pdu.short_message || {};
	return {
		event: 'submit_sm',
		message_id: messageId,
		source_addr: pdu.source_addr,
		destination_addr: pdu.destination_addr,
		dest_addr_ton: pdu.dest_addr_ton,
		data_coding: pdu.data_coding,
		esm_class: pdu.esm_class,
		registered_delivery: pdu.registered_delivery,
		message: typeof body.message === 'string' ? body.message : null,
		udh: (body.udh || []).map((part) => part.toString('hex')),
		payload: Boolean(pdu.message_payload),
		sar: pdu.sar_msg_ref_num === undefined ? null
			: [pdu.sar_msg_ref_num, pdu.sar_total_segments, pdu.sar_segment_seqnum],
		ussd_service_op: pdu.ussd_service_op === undefined ? null : pdu.ussd_service_op,
		its_session_info: pdu.its_session_info ? pdu.its_session_info.toString('hex') : null,
		validity_period: pdu.validity_period instanceof Date
			? pdu.validity_period.toISOString() : null,
	};
}

function onSession(newSession) {
	session = newSession;
	session.on('error', (error) => emit({ event: 'error', message: String(error) }));
	session.on('close', () => emit({ event: 'closed' }));
	for (const command of ['bind_transceiver', 'bind_transmitter', 'bind_receiver']) {
		session.on(command, (pdu) => {
			session.send(pdu.response({ system_id: 'NODEPEER' }));
			emit({ event: 'bound', command, system_id: pdu.system_id });
		});
	}
	session.on('submit_sm', (pdu) => {
		const messageId = (nextId++).toString(16).toUpperCase();
		session.send(pdu.response({ message_id: messageId }));
		emit(describeSubmit(pdu, messageId));
	});
	session.on('enquire_link', (pdu) => session.send(pdu.response()));
	session.on('unbind', (pdu) => {
		session.send(pdu.response());
		emit({ event: 'unbound' });
	});
}

function deliver(command) {
	const options = {
		source_addr: command.source_addr,
		source_addr_ton: 1,
		source_addr_npi: 1,
		destination_addr: command.destination_addr || '377',
		data_coding: command.data_coding === undefined ? 0 : command.data_coding,
		esm_class: command.esm_class || 0,
		short_message: command.udh
			? { udh: Buffer.from(command.udh, 'hex'), message: command.text }
			: command.text,
	};
	if (command.ussd_service_op !== undefined) {
		options.ussd_service_op = command.ussd_service_op;
	}
	if (command.its_session_info) {
		options.its_session_info = Buffer.from(command.its_session_info, 'hex');
	}
	if (command.message_id) {
		options.esm_class = 0x04;
		options.short_message = '';
		options.receipted_message_id = command.message_id;
		options.message_state = command.state;
	}
	session.deliver_sm(options, (resp) => emit({
		event: 'deliver_sm_resp',
		sequence_number: resp.sequence_number,
		command_status: resp.command_status,
	}));
}

const commands = {
	deliver,
	receipt: deliver,
	enquire_link: () => session.enquire_link({}, () => emit({ event: 'enquire_link_resp' })),
	unbind: () => session.unbind({}, () => emit({ event: 'unbind_resp' })),
};

const server = smpp.createServer(onSession);
server.listen(0, '127.0.0.1', () => emit({ event: 'listening', port: server.address().port }));

readline.createInterface({ input: process.stdin }).on('line', (line) => {
	if (!line.trim()) {
		return;
	}
	const command = JSON.parse(line);
	if (!session) {
		emit({ event: 'error', message: 'no session bound' });
		return;
	}
	commands[command.cmd](command);
}).on('close', () => process.exit(0));
