"""
``ior modem``: a Quectel RM500Q over its AT port, or an emulated one.

    ior modem info  --port /dev/ttyUSB2 [--json]      identity and 5GS registration
    ior modem cell  --port /dev/ttyUSB2 [--json]      serving cell (SA, EN-DC or LTE)
    ior modem nssai --port /dev/ttyUSB2 [--plmn 00101] [--select 01.000001,...] [--json]
    ior modem emulate [--mode sa|nsa|lte] [--offer 01.000001,...] [--link PATH]

``emulate`` prints the device path on one line and answers as an RM500Q until Ctrl-C; every other
command takes that path as ``--port``. A port that cannot be opened, a modem that does not answer
and a refused value are one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ior_ros.commands.common import number

__all__ = ['register']

_TIMEOUT = number(float, 0.05, 60.0, unit='s', why=(
    'the answer time of one query; slow commands (+QENG, +CFUN) get their own longer time'))


def register(subparsers: Any) -> None:
    """Add the ``modem`` group."""
    parser = subparsers.add_parser(
        'modem', help='Quectel RM500Q over AT: identity, serving cell, slices; emulator',
        description='Talk to a Quectel RM500Q on its AT port (or to `ior modem emulate`).')
    group = parser.add_subparsers(dest='modem_command', metavar='SUBCOMMAND')
    group.required = True

    def port_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument('--port', required=True, metavar='DEV',
                         help='AT port (e.g. /dev/ttyUSB2), or the path `ior modem emulate` '
                              'printed')
        sub.add_argument('--json', action='store_true', help='print one JSON object')
        sub.add_argument('--timeout', type=_TIMEOUT, default=0.5, metavar='S',
                         help='answer time of a query')

    info = group.add_parser('info', help='identity (ATI, CGMR, CGSN) and 5GS registration',
                            description='Manufacturer, model, firmware, IMEI and AT+C5GREG?.',
                            formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    port_options(info)
    info.set_defaults(handler=_info)
    cell = group.add_parser(
        'cell', help='serving cell (AT+QENG="servingcell")',
        description='Mode (NR5G-SA, NR5G-NSA or LTE), RSRP, RSRQ, SINR, band, PCI and ARFCN of '
                    'the serving cell; null where the modem reports no valid value.',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    port_options(cell)
    cell.set_defaults(handler=_cell)
    nssai = group.add_parser(
        'nssai', help='default configured, allowed and rejected NSSAI; select slices',
        description='Read the NSSAIs (AT+C5GNSSAI?, AT+C5GREG?, and AT+C5GNSSAIRDP=3 with '
                    '--plmn). --select writes the default configured NSSAI where it differs, '
                    're-attaches (AT+CFUN=0/1) and checks the slices are allowed.',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    port_options(nssai)
    nssai.add_argument('--plmn', default=None, metavar='MCCMNC',
                       help='PLMN for the configured/allowed/rejected read-back, e.g. 00101')
    nssai.add_argument('--select', default=None, metavar='S-NSSAI[,...]',
                       help='register with these slices (AT form, e.g. 01.000001,02)')
    nssai.add_argument('--attach-timeout', type=number(float, 1.0, 600.0, unit='s', why=(
        'detach and attach take up to 15 s each and the network answers in seconds')),
        default=40.0, metavar='S', help='time allowed for the registration outcome')
    nssai.set_defaults(handler=_nssai)
    emulate = group.add_parser(
        'emulate', help='an emulated RM500Q on a pseudo-terminal',
        description='Print the device path on one line, then answer as an RM500Q until Ctrl-C '
                    '(docs/equipment/modem.md lists what is modelled).',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    emulate.add_argument('--mode', choices=('sa', 'nsa', 'lte'), default='sa',
                         help='serving system: NR5G-SA, EN-DC (NR5G-NSA) or LTE')
    emulate.add_argument('--offer', default='01.000001', metavar='S-NSSAI[,...]',
                         help='slices the emulated network accepts (AT form)')
    emulate.add_argument('--link', default=None, metavar='PATH',
                         help='also make PATH a symlink to the device (a stable name)')
    emulate.add_argument('--plmn', default='00101', metavar='MCCMNC', help='network PLMN')
    emulate.add_argument('--delay', type=number(float, 0.0, 60.0, unit='s', why=(
        'a delay before every answer, to try slow-modem handling')), default=0.0,
                         metavar='S', help='delay before every answer')
    emulate.set_defaults(handler=_emulate)


def _open(args: argparse.Namespace) -> Any:
    from ior_ros.clients.quectel import QuectelRM500Q

    return QuectelRM500Q(args.port, timeout_s=args.timeout, reconnect_timeout_s=1.0).open()


def _print(args: argparse.Namespace, data: dict[str, Any], text: list[str]) -> None:
    if args.json:
        print(json.dumps(data))
    else:
        print('\n'.join(text))


def _info(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    with _open(args) as modem:
        identity = modem.identify()
        registration = modem.registration_5gs()
    data = {**asdict(identity), 'registration': {
        'stat': registration.stat, 'status': registration.status,
        'tac': registration.tac, 'cell_id': registration.cell_id, 'act': registration.act,
        'allowed_nssai': list(registration.allowed_nssai)}}
    _print(args, data, [
        f'{identity.manufacturer} {identity.model}, firmware {identity.revision}, '
        f'IMEI {identity.imei}',
        f'5GS registration: {registration.status} (stat {registration.stat}), allowed NSSAI: '
        f'{":".join(registration.allowed_nssai) or "none"}'])
    return 0


def _cell(args: argparse.Namespace) -> int:
    with _open(args) as modem:
        cell = modem.serving_cell()
    data = cell.as_dict()

    def show(key: str, unit: str = '') -> str:
        value = data[key]
        return 'n/a' if value is None else f'{value:g}{unit}' if isinstance(value, float) \
            else f'{value}{unit}'

    _print(args, data, [
        f'mode {show("mode")}, state {show("state")}',
        f'RSRP {show("rsrp_dbm", " dBm")}, RSRQ {show("rsrq_db", " dB")}, '
        f'SINR {show("sinr_db", " dB")}',
        f'band {show("band")}, PCI {show("pci")}, ARFCN {show("arfcn")}'])
    return 0


def _nssai(args: argparse.Namespace) -> int:
    from ior_ros.clients.quectel import nssai_to_at, validate_plmn

    plmn = validate_plmn(args.plmn, '--plmn') if args.plmn is not None else None
    wanted = None
    if args.select is not None:
        items = [s.strip() for s in args.select.split(',') if s.strip()]
        wanted = nssai_to_at(items, '--select')[1].split(':')
    with _open(args) as modem:
        if wanted is not None:
            modem.select_slices(wanted, timeout_s=args.attach_timeout)
        registration = modem.registration_5gs()
        state = modem.nssai(plmn) if plmn is not None else None
        default = state.default_configured if state is not None else modem.default_nssai()
    data: dict[str, Any] = {
        'default_configured': list(default),
        'allowed': list(state.allowed if state is not None else registration.allowed_nssai),
        'registration': registration.status,
    }
    if state is not None:
        data.update(plmn=state.plmn, configured=list(state.configured),
                    rejected=list(state.rejected))
    _print(args, data, [f'{key}: {":".join(v) if isinstance(v, list) else v}'
                        for key, v in data.items()])
    return 0


def _emulate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ior_ros.clients.errors import EquipmentValidationError
    from ior_ros.clients.modem_emulator import ModemEmulator, serve
    from ior_ros.clients.quectel import validate_at_snssai, validate_plmn

    offered = [validate_at_snssai(s.strip(), '--offer') for s in args.offer.split(',')
               if s.strip()]
    plmn = validate_plmn(args.plmn, '--plmn')
    if args.link is not None:
        link = Path(args.link)
        if not link.parent.is_dir():
            raise EquipmentValidationError(f'--link: {args.link!r}: folder '
                                           f'{str(link.parent)!r} does not exist')
        if link.exists() and not link.is_symlink():
            raise EquipmentValidationError(f'--link: {args.link!r} exists and is not a symlink; '
                                           'give a new path')
    emulator = ModemEmulator(mode=args.mode, offered=offered, link=args.link, plmn=plmn,
                             answer_delay_s=args.delay)

    def ready(path: str) -> None:
        print(path, flush=True)
        print(f'emulated RM500Q ({args.mode}, offering {",".join(offered)}) on {path}; '
              'Ctrl-C to stop', file=sys.stderr, flush=True)

    def terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # SIGTERM stops as Ctrl-C does: the link is removed

    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, terminate)
    serve(emulator, on_ready=ready)
    return 0
