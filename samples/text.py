"""Names and chat texts for sample packages, per language."""

from __future__ import annotations

import random

ADJECTIVES = (
    "sleepy",
    "brave",
    "tiny",
    "salty",
    "cosmic",
    "lazy",
    "quiet",
    "mighty",
    "fuzzy",
    "neon",
    "rusty",
    "lucky",
    "frozen",
    "shy",
    "wild",
    "golden",
    "silent",
    "happy",
    "grumpy",
    "swift",
)
NOUNS = (
    "otter",
    "panda",
    "falcon",
    "noodle",
    "pixel",
    "badger",
    "comet",
    "waffle",
    "lynx",
    "toast",
    "raven",
    "kiwi",
    "gecko",
    "mango",
    "walrus",
    "yeti",
    "cactus",
    "phoenix",
    "moth",
    "pickle",
)
GUILD_WORDS = (
    "Gaming",
    "Study",
    "Anime",
    "Art",
    "Music",
    "Dev",
    "Chill",
    "Memes",
    "Valorant",
    "Minecraft",
    "Book Club",
    "Photography",
    "Homework Help",
    "Speedrun",
    "Python",
    "Lo-fi",
    "Esports",
    "Cafe",
)
CHANNEL_NAMES = (
    "general",
    "memes",
    "off-topic",
    "announcements",
    "help",
    "music",
    "gaming",
    "art",
    "bot-commands",
    "introductions",
    "media",
    "lfg",
    "random",
    "voice-chat",
    "clips",
    "support",
)
GUILD_SUFFIX = ("Hangout", "Community", "Server", "Hub", "Squad", "Den", "Club", "Lounge")

PHRASES = {
    "en": (
        "lol",
        "ok",
        "good night!",
        "anyone up for a game?",
        "brb",
        "gg wp",
        "that's hilarious",
        "wait what",
        "I'll be on in 10 min",
        "did you see the new update?",
        "no way 😂",
        "can't tonight, homework",
        "see you tomorrow",
        "yeah, sure",
        "omg",
        "same",
        "thanks!!",
        "who's joining voice?",
        "this song slaps 🎵",
        'I said "maybe", not yes',
    ),
    "fr": (
        "mdr",
        "ok",
        "bonne nuit !",
        "quelqu'un pour une partie ?",
        "j'arrive",
        "gg bien joué",
        "trop drôle",
        "attends quoi",
        "je suis là dans 10 min",
        "t'as vu la mise à jour ?",
        "pas possible 😂",
        "pas ce soir, devoirs",
        "à demain",
        "ouais, carrément",
        "ça marche",
        "merci !!",
        "qui vient en vocal ?",
        'j\'ai dit "peut-être", pas oui',
        "grave",
        "trop bien",
    ),
    "de": (
        "lol",
        "ok",
        "gute Nacht!",
        "jemand Lust auf eine Runde?",
        "bin gleich da",
        "gg",
        "zu witzig",
        "warte was",
        "bin in 10 Minuten online",
        "hast du das Update gesehen?",
        "niemals 😂",
        "heute nicht, Hausaufgaben",
        "bis morgen",
        "ja, klar",
        "danke!!",
        "krass",
        "wer kommt in den Voice?",
        'ich sagte "vielleicht", nicht ja',
        "genau",
        "süß",
    ),
    "es": (
        "jaja",
        "ok",
        "¡buenas noches!",
        "¿alguien para una partida?",
        "ya voy",
        "gg bien jugado",
        "qué risa",
        "espera qué",
        "me conecto en 10 min",
        "¿viste la actualización?",
        "no puede ser 😂",
        "hoy no, deberes",
        "hasta mañana",
        "sí, claro",
        "¡gracias!",
        "igual",
        "¿quién entra al canal de voz?",
        'dije "quizás", no sí',
        "vale",
        "qué guay",
    ),
    "pt": (
        "kkkk",
        "ok",
        "boa noite!",
        "alguém pra uma partida?",
        "já volto",
        "gg bem jogado",
        "muito engraçado",
        "pera o quê",
        "entro em 10 min",
        "viu a atualização nova?",
        "não acredito 😂",
        "hoje não, lição de casa",
        "até amanhã",
        "sim, claro",
        "obrigado!!",
        "igual",
        "quem vem pro canal de voz?",
        'eu disse "talvez", não sim',
        "beleza",
        "top",
    ),
}
POOL_SIZE = 1500


def username(rng: random.Random) -> str:
    """A new-style unique username."""
    return f"{rng.choice(ADJECTIVES)}_{rng.choice(NOUNS)}{rng.randrange(100)}"


def display_name(name: str) -> str:
    """A global (display) name derived from a username."""
    return name.split("_")[1].rstrip("0123456789").capitalize()


def guild_name(rng: random.Random) -> str:
    """A server name."""
    return f"{rng.choice(GUILD_WORDS)} {rng.choice(GUILD_SUFFIX)}"


def _one_text(rng: random.Random, phrases: tuple[str, ...]) -> str:
    roll = rng.random()
    if roll < 0.55:
        return rng.choice(phrases)
    if roll < 0.80:
        return f"{rng.choice(phrases)}, {rng.choice(phrases)}"
    if roll < 0.87:
        return f"{rng.choice(phrases)}\n{rng.choice(phrases)}"
    if roll < 0.92:
        return f"<@{rng.randrange(10**17, 10**18)}> {rng.choice(phrases)}"
    if roll < 0.96:
        return f"{rng.choice(phrases)} <:pepe_{rng.choice(NOUNS)}:{rng.randrange(10**17, 10**18)}>"
    return f"https://youtu.be/{rng.getrandbits(40):010x} {rng.choice(phrases)}"


def content_pool(rng: random.Random, language: str) -> list[str]:
    """Pre-rendered message contents, so the message writer only picks from a list."""
    phrases = PHRASES[language]
    return [_one_text(rng, phrases) for _ in range(POOL_SIZE)]


def secrets(rng: random.Random) -> list[str]:
    """Distinctive private texts planted in messages, for privacy tests to grep for."""
    tag = f"{rng.getrandbits(32):08x}"
    return [
        f"my new number is +33 6 {rng.randrange(10, 99)} {rng.randrange(10, 99)} 41 {tag[:2]}",
        f"wifi password is kiwi-{tag}-falcon",
        f"I live at {rng.randrange(2, 99)} Elm Street, door code {tag[2:6]}",
    ]
