"""The `graphql-api` command: serve, migrate, create-api-key, export-schema, seed."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from graphql_api.settings import get_settings


def _serve(args: argparse.Namespace) -> None:
    from graphql_api.app import create_app
    from graphql_api.shutdown import serve

    settings = get_settings()
    host = args.host or settings.host
    port = args.port or settings.port
    print(f"GraphiQL: http://{host}:{port}/graphql", flush=True)
    from graphql_api.observability.logs import configure_logging

    configure_logging(settings)
    # Our handler formats uvicorn's records too (log_config=None); each GraphQL operation logs
    # one line of its own, so uvicorn's access log would only repeat it. SIGTERM drains first.
    app = create_app(settings)
    serve(
        app,
        app.state.services,
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
        log_config=None,
        access_log=False,
        ws_per_message_deflate=settings.ws_per_message_deflate,
    )


def _migrate(args: argparse.Namespace) -> None:
    from graphql_api.store.migrate import upgrade_to_head

    asyncio.run(upgrade_to_head(get_settings().database_url))
    print("database is at head")


def _create_api_key(args: argparse.Namespace) -> None:
    from graphql_api.domain.api_keys import ApiKeyService
    from graphql_api.store.database import Database

    async def run() -> str:
        db = Database(get_settings().database_url)
        try:
            key = await ApiKeyService(db).create(args.name, is_admin=args.admin)
        finally:
            await db.dispose()
        kind = "admin key" if args.admin else "key"
        print(f"Created {kind} '{args.name}' (id {key.row['id']}). The secret, shown only once:")
        return key.secret

    print(asyncio.run(run()))


def _export_schema(args: argparse.Namespace) -> None:
    from graphql_api.api.schema import schema

    Path(args.output).write_text(schema.as_str() + "\n")
    print(f"wrote {args.output}")


def _seed(args: argparse.Namespace) -> None:
    from graphql_api.store.seed import seed

    secret = asyncio.run(
        seed(get_settings().database_url, sessions=args.sessions, messages=args.messages, key_name=args.key_name)
    )
    if secret:
        print(f"Created key '{args.key_name}'. The secret, shown only once:")
        print(secret)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="graphql-api", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the server (uvicorn)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(run=_serve)

    commands.add_parser("migrate", help="upgrade the database to head").set_defaults(run=_migrate)

    create_key = commands.add_parser("create-api-key", help="mint an API key; prints the secret last")
    create_key.add_argument("--name", required=True)
    create_key.add_argument("--admin", action="store_true")
    create_key.set_defaults(run=_create_api_key)

    export = commands.add_parser("export-schema", help="write the GraphQL schema (SDL)")
    export.add_argument("--output", "-o", default="schema.graphql")
    export.set_defaults(run=_export_schema)

    seed = commands.add_parser("seed", help="fill the database with realistic demo data")
    seed.add_argument("--sessions", type=int, default=50)
    seed.add_argument("--messages", type=int, default=20)
    seed.add_argument("--key-name", default="seed")
    seed.set_defaults(run=_seed)

    args = parser.parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    main(sys.argv[1:])
