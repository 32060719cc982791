"""``python -m piak``: the command line for administrators.

Each sub-command imports its module only when it runs, so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence

from piak.core.errors import PiakError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m piak",
        description="PIAK Ops: SOP Bidang PIAK sebagai DAG Apache Airflow.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sops = sub.add_parser("sops", help="print the SOP registry (steps, roles, standard times)")
    sops.add_argument("--json", action="store_true", help="print as JSON")
    sops.set_defaults(handler=_run_sops)
    diagrams = sub.add_parser("diagrams", help="write the swimlane diagram (SVG) of every SOP")
    diagrams.add_argument("--out", default="docs/diagrams", help="folder (default: docs/diagrams)")
    diagrams.set_defaults(handler=_run_diagrams)

    regions = sub.add_parser(
        "regions", help="the office's regions from SIAK (SETUP_KEC/SETUP_KEL) for the forms"
    )
    where = regions.add_mutually_exclusive_group(required=True)
    where.add_argument("--sqlite", help="SIAK SQLite database file (read-only)")
    where.add_argument("--conn", help="Airflow Connection id of SIAK (sqlite or oracle)")
    regions.add_argument(
        "--write", action="store_true", help="write config/regions.yaml (else print it)"
    )
    regions.set_defaults(handler=_run_regions)

    demo = sub.add_parser("demo-db", help="write a demo SIAK SQLite database")
    demo.add_argument("--residents", type=int, default=100_000, help="number of residents")
    demo.add_argument("--out", required=True, help="path of the SQLite file to write")
    demo.add_argument("--seed", type=int, default=1, help="random seed (same seed, same data)")
    demo.add_argument(
        "--until", help="last day of the access log, YYYY-MM-DD (default: the reference date)"
    )
    demo.add_argument("--register", help="also write the staff's access register (JSON) here")
    demo.set_defaults(handler=_run_demo_db)

    agenda = sub.add_parser("agenda", help="the agenda (log book) of SOP runs")
    agenda_sub = agenda.add_subparsers(dest="agenda_command", required=True, metavar="ACTION")
    export = agenda_sub.add_parser("export", help="write one month of the agenda (.xlsx or .csv)")
    export.add_argument("--month", required=True, help="month as YYYY-MM (WIB)")
    export.add_argument("--out", required=True, help="output file, .xlsx or .csv")
    export.set_defaults(handler=_run_agenda_export)

    demo_cmd = sub.add_parser(
        "demo", help="run the embedded default: demo SIAK database + airflow standalone"
    )
    demo_cmd.add_argument("--port", type=int, default=8080, help="API server port (loopback)")
    demo_cmd.add_argument("--residents", type=int, default=100_000, help="demo database size")
    demo_cmd.set_defaults(handler=_run_demo)

    backup = sub.add_parser("backup", help="make a backup set of a SQLite database by hand")
    backup.add_argument("--sqlite", required=True, help="the SQLite database to back up")
    backup.add_argument("--dest", required=True, help="backup directory (the set goes inside)")
    backup.add_argument("--label", default="manual", help="set name prefix (default: manual)")
    backup.add_argument(
        "--recipient",
        action="append",
        default=[],
        help="encrypt to this age public key (default: the office keys of config/backup.yaml)",
    )
    backup.add_argument("--no-encrypt", action="store_true", help="leave the set unencrypted")
    backup.set_defaults(handler=_run_backup)

    verify = sub.add_parser("verify-backup", help="verify a backup set against its manifest")
    verify.add_argument("path", help="the set's folder (server, flash disk, NAS)")
    _add_identity(verify)
    verify.set_defaults(handler=_run_verify_backup)

    copy = sub.add_parser("copy-backup", help="copy a backup set to a folder and verify the copy")
    copy.add_argument("source", help="the set's folder")
    copy.add_argument("dest", help="destination directory (the set goes inside)")
    copy.set_defaults(handler=_run_copy_backup)

    restore = sub.add_parser(
        "restore", help="verify a SQLite backup set and restore it into a database file"
    )
    restore.add_argument("path", help="the set's folder")
    restore.add_argument("--to", required=True, help="the SQLite file to restore into")
    restore.add_argument("--tables", nargs="*", default=[], help="only these tables")
    _add_identity(restore)
    restore.set_defaults(handler=_run_restore)

    keys = sub.add_parser("keys", help="the office's backup keys (key ceremony)")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    create = keys_sub.add_parser(
        "create", help="a new key pair, its recovery sheet (PDF) and the Connection to set"
    )
    create.add_argument("--out", required=True, help="folder for the key files (owner-only)")
    create.add_argument("--name", default="kantor", help="key name (default: kantor)")
    create.add_argument(
        "--also", action="append", default=[], help="another current public key (e.g. the drill's)"
    )
    create.add_argument(
        "--retire",
        action="append",
        default=[],
        help="rotation: an earlier office public key whose sets must stay recognised",
    )
    create.set_defaults(handler=_run_keys_create)
    check = keys_sub.add_parser("check", help="show the public key and check code of a key file")
    check.add_argument("file", help="a private key file (e.g. typed back from the sheet)")
    check.set_defaults(handler=_run_keys_check)

    standard = sub.add_parser(
        "mutu-baku", help="a month's step durations against the SOPs' standard times"
    )
    standard.add_argument("--month", required=True, help="YYYY-MM (WIB)")
    standard.set_defaults(handler=_run_standard_time)

    backups = sub.add_parser(
        "backups", help="list the backup catalogue: sets, sizes, copies, restore-tested"
    )
    backups.add_argument("--json", action="store_true", help="machine-readable output")
    backups.add_argument(
        "--check", action="store_true", help="exit 1 when the newest verified set is stale"
    )
    backups.set_defaults(handler=_run_backups)

    roles = sub.add_parser("roles", help="print who holds which office role")
    roles.set_defaults(handler=_run_roles)
    rights = sub.add_parser(
        "access", help="print who may do what (config/access.yaml), as README's table"
    )
    rights.set_defaults(handler=_run_access)
    _add_extract_parser(sub)
    _add_pks_parser(sub)
    return parser


def _add_pks_parser(sub: argparse._SubParsersAction) -> None:
    """``pks``: the registry of cooperation agreements (config/pks.yaml)."""
    pks = sub.add_parser("pks", help="the cooperation agreements (PKS) for individual data")
    pks_sub = pks.add_subparsers(dest="pks_command", required=True, metavar="ACTION")
    show = pks_sub.add_parser("list", help="list the registered agreements")
    show.add_argument("--json", action="store_true", help="machine-readable output")
    show.set_defaults(handler=_run_pks_list)
    add = pks_sub.add_parser("add", help="register an agreement (written to config/pks.yaml)")
    add.add_argument("--number", required=True, help="PKS number, e.g. PKS/003/DUKCAPIL/2026")
    add.add_argument("--institution", required=True, help="the institution, as it requests")
    add.add_argument("--signed", required=True, help="date signed, YYYY-MM-DD")
    add.add_argument("--valid-from", required=True, help="first valid day, YYYY-MM-DD")
    add.add_argument("--valid-to", required=True, help="last valid day, YYYY-MM-DD")
    add.add_argument("--columns", nargs="+", required=True, help="individual columns it allows")
    add.add_argument(
        "--open-identity", action="store_true", help="identifiers may be released without pseudonym"
    )
    add.add_argument(
        "--identity-clause", help="the clause opening identity, e.g. 'Pasal 4 ayat (2)'"
    )
    add.add_argument("--note", help="a remark (purpose, contact)")
    add.set_defaults(handler=_run_pks_add)


def _add_identity(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--identity",
        action="append",
        default=[],
        help="a private key file (AGE-SECRET-KEY-1...) to open an encrypted set "
        "(default: the drill key Connection of config/backup.yaml, when set)",
    )


def _identities(args: argparse.Namespace) -> list:
    """The private keys given by ``--identity`` files, else those of the configuration (asked
    only for an encrypted set: reading a Connection imports Airflow, which takes a second)."""
    from pathlib import Path

    from piak.engines import backup_config, encryption

    if args.identity:
        return [
            key
            for path in args.identity
            for key in encryption.identities_from_text(Path(path).read_text(encoding="utf-8"))
        ]
    try:
        return encryption.identities_for(backup_config.load())
    except PiakError:
        return []


def _add_extract_parser(sub: argparse._SubParsersAction) -> None:
    """``extract``: the population-data extraction engine by hand (SOP Penyajian Data)."""
    p = sub.add_parser("extract", help="extract population data (aggregate or individual)")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--sqlite", help="SIAK SQLite database file (read-only)")
    source.add_argument("--conn", help="Airflow Connection id (sqlite or oracle)")
    p.add_argument("--kind", default="agregat", help="agregat (default) or perseorangan")
    p.add_argument("--columns", nargs="+", default=[], help="individual: whitelisted columns")
    p.add_argument(
        "--unmask", nargs="+", default=[], help="identifiers the PKS opens (no pseudonym)"
    )
    p.add_argument("--pks-number", help="individual: PKS number as registered (`piak pks list`)")
    p.add_argument("--pks-date", help="individual: PKS date, YYYY-MM-DD (checked if given)")
    p.add_argument("--kec", nargs="+", default=[], help="kecamatan codes (99.01.03 or 03)")
    p.add_argument("--kel", nargs="+", default=[], help="kelurahan codes (99.01.03.2001)")
    p.add_argument("--as-of", help="as-of date (default: last 30 June / 31 December)")
    p.add_argument("--age-min", type=int, help="youngest age")
    p.add_argument("--age-max", type=int, help="oldest age")
    p.add_argument("--sex", default="semua", help="semua, laki-laki or perempuan")
    p.add_argument("--format", required=True, help="csv, xlsx or parquet")
    p.add_argument(
        "--threshold",
        type=int,
        help="small-count threshold (default and minimum: the office floor)",
    )
    p.add_argument(
        "--pseudonym-conn",
        help="Airflow Connection of the pseudonym secret (default: pseudonym_conn_id of "
        "config/provision.yaml)",
    )
    p.add_argument("--release-id", help="release id keying the pseudonyms (default: request hash)")
    p.add_argument("--out", required=True, help="output folder (must not exist or be empty)")
    p.add_argument("--chunk-rows", type=int, default=65_536, help="rows per streamed chunk")
    p.add_argument("--applicant", default="Administrator PIAK", help="applicant name")
    p.add_argument("--institution", default="Bidang PIAK", help="applicant institution")
    p.add_argument("--letter-number", default="TANPA-SURAT", help="request letter number")
    p.add_argument("--letter-date", help="request letter date (default: today)")
    p.add_argument("--purpose", default="Ekstraksi manual oleh administrator (baris perintah)")
    p.add_argument("--contact", default="administrator@piak.local", help="phone or e-mail")
    p.set_defaults(handler=_run_extract)


def _print_lines(lines: Iterable[object]) -> int:
    for line in lines:
        print(line)
    return 0


def _run_sops(args: argparse.Namespace) -> int:
    from piak.core import registry

    sops = registry.load_registry()
    print(registry.to_json(sops) if args.json else registry.format_text(sops))
    return 0


def _run_diagrams(args: argparse.Namespace) -> int:
    from pathlib import Path

    from piak.core import diagrams

    return _print_lines(diagrams.write_all(Path(args.out)))


def _run_regions(args: argparse.Namespace) -> int:
    from contextlib import closing

    from piak.engines import provision, siak_db
    from piak.engines.provision import regions

    connect = siak_db.connect_sqlite if args.sqlite else siak_db.connect
    with closing(connect(args.sqlite or args.conn)) as conn:
        office = regions.from_siak(provision.load_regions(conn))
    if args.write:
        path = regions.write(office)
        print(f"{path}: {len(office.kecamatan)} kecamatan, {len(office.kelurahan)} kelurahan/desa")
    else:
        print(regions.dump(office), end="")
    return 0


def _run_demo_db(args: argparse.Namespace) -> int:
    from datetime import date
    from pathlib import Path

    from piak.engines import demo_db

    try:
        until = date.fromisoformat(args.until) if args.until else None
    except ValueError:
        raise PiakError(f"--until harus tanggal YYYY-MM-DD, bukan {args.until!r}") from None
    summary = demo_db.generate(
        args.out,
        residents=args.residents,
        seed=args.seed,
        activity_until=until,
        register=Path(args.register) if args.register else None,
    )
    print(summary)
    return 0


def _run_agenda_export(args: argparse.Namespace) -> int:
    from piak.core import agenda

    path, count = agenda.export_month(args.month, args.out)
    print(f"{count} entri agenda bulan {args.month} ditulis ke {path}")
    return 0


def _run_demo(args: argparse.Namespace) -> int:
    from piak import demo

    return demo.run_standalone(port=args.port, residents=args.residents)


def _run_backup(args: argparse.Namespace) -> int:
    from datetime import datetime
    from pathlib import Path
    from zoneinfo import ZoneInfo

    from piak.core import settings
    from piak.engines import backupset, sqlite_backup

    source = Path(args.sqlite)
    if not source.is_file():
        raise PiakError(f"basis data SQLite tidak ditemukan: {source}")
    name = backupset.set_name_for(args.label, datetime.now(ZoneInfo(settings.TIMEZONE)))
    recipients = [] if args.no_encrypt else args.recipient or _configured_recipients()
    folder = sqlite_backup.backup(
        source, Path(args.dest), name, database=source.name, recipients=recipients
    )
    print(folder)
    return 0


def _configured_recipients() -> list[str]:
    from piak.engines import backup_config, encryption

    try:
        recipients = encryption.recipients_for(backup_config.load())
    except PiakError as exc:
        raise PiakError(
            f"{exc}. Beri --recipient age1... (kunci publik kantor) atau --no-encrypt"
        ) from None
    if not recipients:
        raise PiakError("enkripsi dimatikan di konfigurasi: beri --recipient atau --no-encrypt")
    return recipients


def _run_verify_backup(args: argparse.Namespace) -> int:
    from pathlib import Path

    from piak.engines import backupset

    folder = Path(args.path)
    if not folder.is_dir():
        print(f"galat: {folder} bukan folder set cadangan", file=sys.stderr)
        return 1
    try:
        encrypted = backupset.load_manifest(folder).encrypted
    except backupset.ManifestError:
        encrypted = False  # verify_set says what is wrong with it
    check = backupset.verify_set(folder, identities=_identities(args) if encrypted else [])
    if not check.ok:
        for problem in check.problems:
            print(f"RUSAK: {problem}", file=sys.stderr)
        return 1
    manifest = backupset.load_manifest(folder)
    sealed = "terenkripsi" if manifest.encrypted else "tidak terenkripsi"
    print(
        f"UTUH: set {manifest.set_name} ({manifest.database}, {manifest.engine}, {sealed}), "
        f"{len(manifest.files)} berkas, {manifest.total_size} byte, "
        f"diekspor {manifest.finished_at}"
    )
    for note in check.unchecked:
        print(f"CATATAN: {note} (berkasnya utuh; isinya diperiksa dengan --identity)")
    return 0


def _run_copy_backup(args: argparse.Namespace) -> int:
    from pathlib import Path

    from piak.engines import backupset, offsite

    source = Path(args.source)
    backupset.verify_set(source, contents=False).raise_for_problems()  # a copy: files
    report = offsite.copy_set(source, offsite.LocalTarget(Path(args.dest)))
    print(
        f"{source.name} -> {Path(args.dest) / source.name}: {len(report.copied)} berkas disalin, "
        f"{len(report.skipped)} sudah ada; salinan terverifikasi"
    )
    return 0


def _run_restore(args: argparse.Namespace) -> int:
    from pathlib import Path

    from piak.engines import backupset, sqlite_backup
    from piak.sops import recovery

    folder = Path(args.path)
    if not folder.is_dir():
        print(f"galat: {folder} bukan folder set cadangan", file=sys.stderr)
        return 1
    backupset.verify_set(folder, contents=False).raise_for_problems()
    manifest = backupset.load_manifest(folder)
    tables = recovery.resolve_tables(list(args.tables), manifest.row_counts)
    counts = sqlite_backup.restore(
        folder,
        Path(args.to),
        tables=tables or None,
        identities=_identities(args) if manifest.encrypted else [],
    )
    wrong = [t for t, n in counts.items() if manifest.row_counts.get(t) != n]
    if wrong:
        print(f"galat: jumlah baris berbeda dengan manifest: {', '.join(wrong)}", file=sys.stderr)
        return 1
    print(f"{manifest.set_name} -> {args.to}: {len(counts)} tabel, {sum(counts.values())} baris")
    return 0


def _run_standard_time(args: argparse.Namespace) -> int:
    from piak.core import agenda, registry

    rows = agenda.standard_time_report(args.month)
    print(f"Mutu baku {agenda.month_title(args.month)}")
    if not rows:
        print("Belum ada langkah terukur pada bulan ini.")
        return 0
    print(
        f"{'SOP':<22} {'Langkah':>7} {'Jumlah':>6} {'Median (menit)':>14} "
        f"{'Terlama (menit)':>15} {'Waktu baku':>14} {'Melebihi':>8}"
    )
    for r in rows:
        step = registry.find_step(r["sop"], r["step"])
        baku = (step.time_text if step else None) or "-"  # the SOP's own words
        print(
            f"{r['sop']:<22} {r['step']:>7} {r['count']:>6} {r['median_minutes']:>14} "
            f"{r['max_minutes']:>15} {baku:>14} {r['over_standard']:>8}"
        )
    return 0


def _run_backups(args: argparse.Namespace) -> int:
    import json

    from piak.engines import backup_config, catalogue, encryption

    config = backup_config.load()
    rows = catalogue.rows(config, encryption.known_recipients(config))
    fresh = catalogue.freshness(config)
    if args.json:
        print(json.dumps({"sets": rows, "freshness": fresh}, indent=2))
        return 1 if args.check and fresh["stale"] else 0
    if not rows:
        print("Katalog kosong: belum ada set cadangan terverifikasi.")
        return 0
    print(f"{'Set':<32} {'Ukuran':>10}  {'Salinan':<24} {'Terverifikasi':<13} Uji pulih")
    for row in rows:
        size = f"{row['size'] / 1e6:.1f} MB" if row["size"] else "-"
        tested = (row["restore_tested_at"] or "belum")[:16]
        name = row["set"] + (" (pengaman)" if row["safety"] else "")
        print(
            f"{name:<32} {size:>10}  {', '.join(row['copies']) or '-':<24} "
            f"{'ya' if row['verified'] else 'belum':<13} {tested}"
        )
    for row in rows:
        if row["keys_known"] is False:
            print(
                f"PERINGATAN: {row['set']} dienkripsi untuk kunci yang tidak dikenal konfigurasi "
                "(bukan kunci kini maupun 'retired'): simpan kunci privatnya atau catat sebagai "
                "kunci lama"
            )
    limit = f"batas {fresh['max_age_hours']:g} jam"
    if fresh["set"] is None:
        print(f"BASI: belum ada set terverifikasi di server dan semua target ({limit})")
    else:
        state = "BASI" if fresh["stale"] else "segar"
        print(f"Terbaru: {fresh['set']}, umur {fresh['age_hours']} jam ({limit}): {state}")
    return 1 if args.check and fresh["stale"] else 0


def _run_keys_create(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from piak.engines import keys

    made = keys.create(Path(args.out), args.name)
    extra = {"recipients": [made.public, *args.also], "retired": list(args.retire)}
    print(f"Kunci privat   : {made.private_file} (hanya pemilik; simpan offline, lalu hapus)")
    print(f"Lembar pemulihan: {made.sheet} (cetak, simpan di amplop tersegel, lalu hapus)")
    print(f"Kunci publik   : {made.public}")
    print("Pasang di Connection piak_backup_recipients (extra):")
    print("  " + json.dumps(extra))
    return 0


def _run_keys_check(args: argparse.Namespace) -> int:
    from pathlib import Path

    from piak.engines import keys

    return _print_lines(keys.check(Path(args.file)))


def _run_roles(args: argparse.Namespace) -> int:
    from piak.core import roles

    return _print_lines(
        f"{role:<14} {', '.join(u['id'] for u in users) or '-'}"
        for role, users in roles.load_roles().items()
    )


def _run_access(args: argparse.Namespace) -> int:
    from piak.core import access

    print(access.rights_table(access.load()))
    return 0


def _run_pks_list(args: argparse.Namespace) -> int:
    import json

    from piak.engines.provision.config import load_pks, pks_file

    registry = load_pks()
    if args.json:
        print(json.dumps([a.as_record() for a in registry.agreements], indent=2))
        return 0
    if not registry.agreements:
        print(f"Belum ada PKS terdaftar ({pks_file()}).")
        return 0
    for a in registry.agreements:
        identity = f"identitas dibuka ({a.identity_clause})" if a.open_identity else "pseudonim"
        print(f"{a.number}  {a.institution}")
        print(f"    berlaku {a.period()}, ditandatangani {a.signed.isoformat()}, {identity}")
        print(f"    kolom: {', '.join(a.columns)}")
    return 0


def _run_pks_add(args: argparse.Namespace) -> int:
    from piak.engines.provision.config import add_agreement, pks_file

    agreement = add_agreement(
        {
            "number": args.number,
            "institution": args.institution,
            "signed": args.signed,
            "valid_from": args.valid_from,
            "valid_to": args.valid_to,
            "columns": args.columns,
            "open_identity": args.open_identity,
            "identity_clause": args.identity_clause,
            "note": args.note,
        }
    )
    print(f"PKS {agreement.number} ({agreement.institution}) dicatat di {pks_file()}")
    return 0


def _run_extract(args: argparse.Namespace) -> int:
    from contextlib import closing
    from pathlib import Path

    from piak.engines import provision, siak_db
    from piak.engines.provision.config import load_settings
    from piak.engines.provision.pseudonym import Pseudonymiser, office_secret
    from piak.engines.provision.request import today_wib

    params = {
        "nama_pemohon": args.applicant,
        "instansi": args.institution,
        "nomor_surat": args.letter_number,
        "tanggal_surat": args.letter_date or today_wib().isoformat(),
        "keperluan": args.purpose,
        "kontak": args.contact,
        "jenis_data": args.kind,
        "nomor_pks": args.pks_number,
        "tanggal_pks": args.pks_date,
        "kolom": args.columns,
        "identitas_terbuka": args.unmask,
        "kecamatan": args.kec,
        "kelurahan": args.kel,
        "tanggal_data": args.as_of,
        "umur_min": args.age_min,
        "umur_max": args.age_max,
        "jenis_kelamin": args.sex,
        "format": args.format,
        "ambang_sel_kecil": args.threshold,
    }
    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise PiakError(f"folder keluaran {out} sudah ada dan berisi: tidak ditimpa")
    connect = siak_db.connect_sqlite if args.sqlite else siak_db.connect
    with closing(connect(args.sqlite or args.conn)) as conn:
        request = provision.validate_request(
            params, region_lookup=lambda: provision.load_regions(conn)
        )
        pseudonyms = None
        if request.pseudonymised:
            conn_id = args.pseudonym_conn or load_settings().pseudonym_conn_id
            release = args.release_id or request.fingerprint()[:16]
            pseudonyms = Pseudonymiser(office_secret(conn_id), release)
        result = provision.prepare_data(
            request, conn, out, reuse=False, pseudonyms=pseudonyms, chunk_rows=args.chunk_rows
        )
    print(f"Data {request.kind} per {result['as_of']} ({result['scope']}) -> {out}")
    for entry in result["files"]:
        print(f"  {entry['name']}: {entry['rows']} baris, {entry['size']} byte")
    if result["suppressed_cells"]:
        print(f"  {result['suppressed_cells']} sel kecil disensor (lihat manifest.json)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except PiakError as exc:
        print(f"galat: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
