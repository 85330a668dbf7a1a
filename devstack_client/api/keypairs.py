from flask import url_for
from flask_restx import Namespace, Resource, fields

from devstack_client.api.common import BODY_ERRORS, READ_ERRORS, documents_errors
from devstack_client.api.validation import parse_body
from devstack_client.appctx import get_connection
from devstack_client.services import KeypairService

ns = Namespace("keypair", description="Nova keypairs (SSH keys or x509 certificates) of the gateway's user")

PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHHbwnJGKFge/ncqP+GJHVqLWG55l0FPj5VhXA52n1P6 me@laptop"

keypair = ns.model(
    "Keypair",
    {
        "name": fields.String(example="my-key"),
        "type": fields.String(description="ssh or x509", example="ssh"),
        "fingerprint": fields.String(example="3f:56:ec:2e:77:12:81:a1:ee:7b:77:2d:22:05:2a:1c"),
        "public_key": fields.String(example=PUBLIC_KEY),
        "created_at": fields.String(
            nullable=True,
            description="Only when showing one keypair (null in lists and creates: Nova's answers omit it)",
            example="2026-11-26T20:45:10.254838",
        ),
    },
)
keypair_list = ns.model("KeypairList", {"keypairs": fields.List(fields.Nested(keypair))})
keypair_created = ns.inherit(
    "KeypairCreated",
    keypair,
    {
        "private_key": fields.String(
            nullable=True,
            description="Only when Nova generated the key (no public_key sent): shown in this answer ONCE, "
            "kept nowhere, never shown again. PEM for ssh, base64 PKCS#12 for x509. null on import.",
            example="-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEAyOnX…\n-----END RSA PRIVATE KEY-----\n",
        ),
    },
)
keypair_create = ns.model(
    "KeypairCreate",
    {
        # Nova's own rule below microversion 2.92 (its pattern ends in "+").
        "name": fields.String(
            required=True,
            min_length=1,
            max_length=255,
            pattern="^[-_ a-zA-Z0-9]*$",  # "*": an empty name fails min_length alone
            description="Letters, digits, spaces, '-' and '_'",
            example="my-key",
        ),
        "public_key": fields.String(
            min_length=1, description="Import this public key; leave out to have Nova generate one", example=PUBLIC_KEY
        ),
        "type": fields.String(enum=["ssh", "x509"], default="ssh", example="ssh"),
    },
    strict=True,
)


CREATED = "Created; a generated private_key is in this answer only"
CREATED_HEADERS = {
    "Location": "URL of the new keypair",
    "Cache-Control": "no-store: the answer may hold a private key",
}


@ns.route("")
class KeypairList(Resource):
    @documents_errors(ns, *READ_ERRORS)
    @ns.marshal_with(keypair_list, description="The user's keypairs")
    def get(self):
        """List the keypairs."""
        return {"keypairs": KeypairService(get_connection()).list_keypairs()}

    @ns.expect(keypair_create)
    @documents_errors(ns, 409, *BODY_ERRORS, *READ_ERRORS)
    # Headers on the 201 only (ns.header() documents them on every answer);
    # above marshal_with, whose own 201 entry would replace this one.
    @ns.response(201, CREATED, keypair_created, headers=CREATED_HEADERS)
    @ns.marshal_with(keypair_created, code=201, description=CREATED)
    def post(self):
        """Import a public key, or generate a keypair and return its private key once."""
        body = parse_body(keypair_create, check=_name_without_outer_spaces)
        created = KeypairService(get_connection()).create_keypair(
            name=body["name"], key_type=body.get("type", "ssh"), public_key=body.get("public_key")
        )
        headers = {"Location": url_for("keypair_keypair", name=created["name"]), "Cache-Control": "no-store"}
        return created, 201, headers


def _name_without_outer_spaces(body: dict) -> list[dict[str, str]]:
    # Nova also applies its generic name format (no leading or trailing
    # whitespace), which the pattern above does not express.
    name = body.get("name")
    if isinstance(name, str) and name != name.strip():
        return [{"field": "name", "message": "name must not start or end with spaces"}]
    return []


@ns.route("/<string:name>")
@ns.param("name", "Keypair name")
class Keypair(Resource):
    @documents_errors(ns, 404, *READ_ERRORS)
    @ns.marshal_with(keypair, description="The keypair")
    def get(self, name):
        """Show one keypair."""
        return KeypairService(get_connection()).get_keypair(name)

    @documents_errors(ns, 404, *READ_ERRORS)
    @ns.response(204, "Deleted")
    def delete(self, name):
        """Delete a keypair."""
        KeypairService(get_connection()).delete_keypair(name)
        return "", 204
