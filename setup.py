import ast
from pathlib import Path

from setuptools import find_packages, setup


def package_version() -> str:
    """``__version__`` of devstack_client/__init__.py, read without importing the package.

    Importing it would import Flask, which is not installed yet when pip builds us.
    """
    tree = ast.parse((Path(__file__).parent / "devstack_client" / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__version__" for t in node.targets):
            return ast.literal_eval(node.value)
    raise RuntimeError("devstack_client/__init__.py defines no __version__")


setup(
    name="devstack-client",
    version=package_version(),
    description="A REST gateway (Flask + flask-restx + openstacksdk) to manage VMs in an OpenStack cloud",
    packages=find_packages(include=["devstack_client", "devstack_client.*"]),
    # The example dashboard's files, served at /dashboard/ by an installed gateway too.
    package_data={"devstack_client.dashboard": ["*.html", "*.js", "*.css", "vendor/*.js"]},
    python_requires=">=3.11",
    install_requires=[
        "Flask>=3.1,<3.2",
        "Werkzeug>=3.1,<3.2",
        "flask-restx>=1.3.2,<1.4",
        "openstacksdk>=4.22,<5",
        "keystoneauth1>=5.18,<6",
        "requests>=2.32,<3",
        "jsonschema>=4.20,<5",
        "gunicorn[gevent]>=27.0.1,<28",
        "gevent>=26.9,<27",
        "prometheus-client>=0.26,<0.27",
        "flask-cors>=6.0.5,<7",
        "cachetools>=5.3,<9",
        "dogpile.cache>=1.1,<2",
        "redis>=5.2,<8",
        "orjson>=3.10,<4",
    ],
    extras_require={
        "test": [
            "pytest>=9,<10",
            "pytest-cov>=7,<8",
            "requests-mock>=1.12,<2",
            "fixtures>=4,<5",
            "ruff>=0.17,<0.18",
            "openapi-spec-validator>=0.9,<0.10",
            "playwright>=1.40,<2",
            "schemathesis>=4.32,<5",
            "matplotlib>=3.8,<4",  # tests/test_bench.py runs the benchmark's short mode, plot included
            # tests/test_docs.py builds the docs site (mkdocs.yml) with --strict; material 9 needs MkDocs 1.x
            "mkdocs>=1.6,<2",
            "mkdocs-material>=9.5,<10",
            "kubernetes-validate>=1.37,<2",  # tests/test_deploy.py: the Kubernetes API's schemas, offline
        ],
        # python -m bench (bench/README.md): the plot, and the `openstack` CLI it compares with
        "bench": ["matplotlib>=3.8,<4", "python-openstackclient>=7,<10"],
    },
    entry_points={"console_scripts": ["devstack-client=devstack_client.main:main"]},
)
