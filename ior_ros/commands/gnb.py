"""
``ior gnb``: an srsRAN Project gNB's slice PRB quotas and per-UE metrics over its remote-control
WebSocket (issue 13; docs/equipment/gnb.md), and an emulator of that server.

    ior gnb policy set --url ws://127.0.0.1:8001/ --plmn 00101 --sst 1 --sd 1 --min 20 --max 60
    ior gnb metrics --url ws://127.0.0.1:8001/ --count 5 --json
    ior gnb emulate --port 8001 --version 25.10 --slices gnb_slicing.yml
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ior_ros.commands.common import input_path, number

__all__ = ['register']

_TIMEOUT = number(float, 0.05, 600.0, unit='s', why='one answer of the gNB takes milliseconds')
_PERCENT = number(int, 0, 100, unit='%', why='a TS 28.541 ratio in whole percent')


def _sd(text: str) -> int:
    """``--sd``: decimal or 0x-hex, 0..0xFFFFFE."""
    try:
        value = int(text.strip(), 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f'{text!r} is not an integer (decimal, or hex as '
                                         f'0x000001)') from None
    if not 0 <= value <= 0xFFFFFE:
        raise argparse.ArgumentTypeError(f'{text}: must be 0..0xFFFFFE (16777214); leave --sd '
                                         f'out for a slice without SD')
    return value


def _url(text: str) -> str:
    if not text.startswith(('ws://', 'wss://')):
        raise argparse.ArgumentTypeError(f'{text!r}: must be ws://HOST:PORT/ (srsRAN '
                                         f'remote_control: bind_addr and port, default 8001)')
    return text


def register(subparsers: Any) -> None:
    """Add the ``gnb`` group."""
    parser = subparsers.add_parser(
        'gnb', help='srsRAN gNB slice quotas and metrics (remote control WebSocket)',
        description='Drive an srsRAN Project gNB through its remote-control WebSocket '
                    '(25.10+: rrm_policy_ratio_set, metrics_subscribe), or emulate one.')
    group = parser.add_subparsers(dest='gnb_command', metavar='SUBCOMMAND')
    group.required = True

    policy = group.add_parser('policy', help='slice PRB quotas',
                              description='Slice PRB quotas (TS 28.541 RRMPolicyRatio).')
    policy_group = policy.add_subparsers(dest='policy_command', metavar='ACTION')
    policy_group.required = True
    pset = policy_group.add_parser(
        'set', help='apply one slice policy',
        description='Validate one policy (dedicated <= min <= max <= 100), then send one '
                    'rrm_policy_ratio_set; the gNB applies it to every cell. A gNB of '
                    '24.10/25.04 has no such command: give --gnb-config and --restart-command '
                    'to write cell_cfg.slicing and restart it instead.',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    pset.add_argument('--url', type=_url, required=True, metavar='WS',
                      help='the gNB remote-control URL, e.g. ws://127.0.0.1:8001/')
    pset.add_argument('--plmn', default='00101', help='PLMN identity, MCC + MNC (5 or 6 digits)')
    pset.add_argument('--sst', type=number(int, 0, 255, why='SST is 8 bits'), required=True,
                      help='slice/service type')
    pset.add_argument('--sd', type=_sd, default=None,
                      help='slice differentiator (decimal or 0x hex); none if left out')
    pset.add_argument('--min', type=_PERCENT, default=0, dest='min_ratio',
                      help='min PRB ratio [%%]')
    pset.add_argument('--max', type=_PERCENT, default=100, dest='max_ratio',
                      help='max PRB ratio [%%]')
    pset.add_argument('--dedicated', type=_PERCENT, default=0, dest='dedicated_ratio',
                      help='dedicated PRB ratio [%%] (srsRAN resets it to 0 at runtime)')
    pset.add_argument('--timeout', type=_TIMEOUT, default=2.0, metavar='S',
                      help='longest wait for the connection and for each answer')
    pset.add_argument('--gnb-config', type=input_path, default=None, metavar='FILE',
                      help='24.10/25.04 only: the YAML file whose cell_cfg.slicing is written')
    pset.add_argument('--restart-command', default=None, metavar='CMD',
                      help='24.10/25.04 only: command that restarts the gNB (no shell)')
    pset.add_argument('--release', choices=('24.10', '25.04'), default='25.04',
                      help='24.10/25.04 only: which keys cell_cfg.slicing may hold')
    pset.add_argument('--json', action='store_true', help='print one JSON object')
    pset.set_defaults(handler=_policy_set)

    metrics = group.add_parser(
        'metrics', help='per-UE scheduler metrics',
        description='Subscribe to the metrics push (metrics: enable_json: true) and print '
                    '--count reports: one line per UE, or one JSON object per report (--json).',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    metrics.add_argument('--url', type=_url, required=True, metavar='WS',
                         help='the gNB remote-control URL')
    metrics.add_argument('--count', type=number(int, 1, 1_000_000, why=(
        'reports come about once a second on a gNB')), default=1, help='reports to print')
    metrics.add_argument('--timeout', type=_TIMEOUT, default=5.0, metavar='S',
                         help='longest wait for each report')
    metrics.add_argument('--json', action='store_true', help='one JSON object per report')
    metrics.set_defaults(handler=_metrics)

    emulate = group.add_parser(
        'emulate', help='run a gNB remote-control emulator',
        description='A WebSocket server that answers as the srsRAN gNB remote control does '
                    '(same commands, error strings and metrics push; docs/equipment/gnb.md). '
                    'Prints its URL, then runs until Ctrl-C or a quit command.',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    emulate.add_argument('--host', default='127.0.0.1', help='address to listen on')
    emulate.add_argument('--port', type=number(int, 0, 65535, why='a TCP port'), default=0,
                         help='port (0: any free port; srsRAN uses 8001)')
    emulate.add_argument('--version', choices=('25.10', '25.04'), default='25.10',
                         help='25.10: rrm_policy_ratio_set and metrics; 25.04: neither')
    emulate.add_argument('--slices', type=input_path, default=None, metavar='FILE',
                         help='gNB YAML with cell_cfg (plmn, pci, channel_bandwidth_MHz, '
                              'common_scs, slicing); default: 51 PRBs, slices SST 1/SD 1 and '
                              'SST 2/SD 1')
    emulate.add_argument('--period', type=number(float, 0.01, 60.0, unit='s', why=(
        'a push below 10 ms floods the subscribers')), default=1.0,
                         help='metrics push period')
    emulate.add_argument('--bps-per-prb', type=number(float, 1.0, 1e9, unit='bit/s',
                                                      why='one PRB carries at most ~1 Mbit/s '
                                                          'per layer'),
                         default=1.0e6, help='throughput of one PRB for a backlogged UE')
    emulate.set_defaults(handler=_emulate)


def _policy_dict(policy: Any) -> dict[str, Any]:
    return {'plmn': policy.plmn, 'sst': policy.sst, 'sd': policy.sd,
            'min_ratio': policy.min_ratio, 'max_ratio': policy.max_ratio,
            'dedicated_ratio': policy.dedicated_ratio}


def _policy_set(args: argparse.Namespace) -> int:
    from ior_ros.clients.errors import EquipmentValidationError
    from ior_ros.clients.srsran import SlicePolicy, SrsranGnb

    # Validated before any connection: a refused policy sends nothing.
    policy = SlicePolicy(sst=args.sst, sd=args.sd, min_ratio=args.min_ratio,
                         max_ratio=args.max_ratio, dedicated_ratio=args.dedicated_ratio,
                         plmn=args.plmn)
    fallback = None
    if (args.gnb_config is None) != (args.restart_command is None):
        raise EquipmentValidationError('--gnb-config and --restart-command: give both (the YAML '
                                       'path of 24.10/25.04) or neither')
    if args.gnb_config is not None:
        from ior_ros.clients.srsran_yaml import YamlGnbConfigurator

        fallback = YamlGnbConfigurator(args.gnb_config, args.restart_command,
                                       release=args.release)
    with SrsranGnb(args.url, timeout_s=args.timeout, connect_timeout_s=args.timeout,
                   reconnect=False, yaml_fallback=fallback) as gnb:
        caps = gnb.connect()
        result = gnb.apply_slice_policy(policy)
    if args.json:
        print(json.dumps({'url': args.url, 'release': caps.release, 'path': result.path,
                          'policies': [_policy_dict(p) for p in result.policies],
                          'seconds': list(result.seconds), 'notes': list(result.notes)}))
        return 0
    total_ms = sum(result.seconds) * 1e3
    print(f'applied {policy.text}: min {policy.min_ratio} % max {policy.max_ratio} % '
          f'dedicated {policy.dedicated_ratio} % via {result.path} ({caps.release}) in '
          f'{total_ms:.2f} ms')
    for note in result.notes:
        print(f'note: {note}')
    return 0


def _report_dict(report: Any) -> dict[str, Any]:
    return {'timestamp': report.timestamp,
            'cells': [{'pci': cell.pci,
                       'ues': [{'rnti': ue.rnti, 'pci': ue.pci, 'dl_bps': ue.dl_bps,
                                'ul_bps': ue.ul_bps, 'cqi': ue.cqi, 'dl_mcs': ue.dl_mcs,
                                'ul_mcs': ue.ul_mcs, 'pusch_snr_db': ue.pusch_snr_db,
                                'dl_buffer_bytes': ue.dl_buffer_bytes,
                                'ul_buffer_bytes': ue.ul_buffer_bytes} for ue in cell.ues]}
                      for cell in report.cells]}


def _metrics(args: argparse.Namespace) -> int:
    from ior_ros.clients.errors import EquipmentRejected
    from ior_ros.clients.srsran import SrsranGnb

    with SrsranGnb(args.url, timeout_s=args.timeout, connect_timeout_s=args.timeout,
                   reconnect=False) as gnb:
        caps = gnb.connect()
        if not caps.metrics:
            raise EquipmentRejected(f'gNB {args.url} ({caps.release}) has no metrics_subscribe: '
                                    f'set metrics: enable_json: true (25.10+; earlier releases '
                                    f'send JSON metrics over UDP)')
        gnb.metrics_subscribe()
        if not args.json:
            print(f'{"pci":>4} {"rnti":>6} {"dl Mb/s":>9} {"ul Mb/s":>9} {"cqi":>4} '
                  f'{"dl_mcs":>6} {"ul_mcs":>6} {"snr dB":>7}')
        for _ in range(args.count):
            report = gnb.next_metrics(args.timeout)
            if args.json:
                print(json.dumps(_report_dict(report)), flush=True)
                continue
            for ue in report.ues:
                print(f'{_show(ue.pci):>4} {ue.rnti:#06x} {ue.dl_bps / 1e6:9.3f} '
                      f'{ue.ul_bps / 1e6:9.3f} {_show(ue.cqi):>4} {_show(ue.dl_mcs):>6} '
                      f'{_show(ue.ul_mcs):>6} {_show(ue.pusch_snr_db):>7}', flush=True)
    return 0


def _show(value: Any) -> str:
    return '-' if value is None else f'{value:g}' if isinstance(value, float) else str(value)


def _emulate(args: argparse.Namespace) -> int:
    import asyncio

    from ior_ros.clients.gnb_emulator import GnbEmulator
    from ior_ros.clients.srsran_yaml import read_gnb_cells
    from ior_ros.core.input_files import display_path, read_input_yaml

    cells = None
    if args.slices is not None:
        data = read_input_yaml(args.slices, 'gNB config', shape='mapping')
        cells = read_gnb_cells(data, f'gNB config {display_path(args.slices)}')
    emulator = GnbEmulator(cells, release=args.version, host=args.host, port=args.port,
                           metrics_period_s=args.period, bps_per_prb=args.bps_per_prb)

    async def serve() -> None:
        url = await emulator.start()
        print(url, flush=True)
        for index, cell in enumerate(emulator.cells):
            shown = ', '.join(f'sst {s.sst} sd {"-" if s.sd is None else s.sd} '
                              f'min {s.min_ratio} max {s.max_ratio}' for s in cell.slices)
            print(f'cell {index}: pci {cell.pci} plmn {cell.plmn} {cell.nof_prbs} PRBs; '
                  f'slices: {shown or "none"}; release {args.version}', file=sys.stderr,
                  flush=True)
        await emulator.serve_until_quit()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass
    return 0
