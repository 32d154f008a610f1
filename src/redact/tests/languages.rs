//! Secrets named in prose in other languages (`foreign.rs`, and the
//! accented copulas of `phrase::spoken_is`), with sentences about passwords
//! that hold none.

use super::redacted;

#[test]
fn secrets_named_in_other_languages_are_redacted() {
    let cases = [
        (
            "Khóa API của dịch vụ SMS là SYxV0cBHAyNJX24a5FNCE5E9SowFgbo3p5XI.",
            "SYxV0cBHAyNJX24a5FNCE5E9SowFgbo3p5XI",
        ),
        (
            "Hasło do bazy na stagingu to bVTuE_hhx+b!H7~6SGp — zmień je po migracji.",
            "bVTuE_hhx+b!H7~6SGp",
        ),
        (
            "Пароль от админки стейджинга: ZCrzeTCSF_rt34l=a (не коммитьте его).",
            "ZCrzeTCSF_rt34l=a",
        ),
        (
            "Kata sandi untuk admin panel: Qm8#vLp2xRt9wZ",
            "Qm8#vLp2xRt9wZ",
        ),
        (
            "API 키는 a8F3kLm9Qz2Xv7Rt5Wp1 입니다.",
            "a8F3kLm9Qz2Xv7Rt5Wp1",
        ),
        (
            "DB 관리자 비밀번호는 Xk9#mP2vL8qR4t 입니다. 로그인 후 바꿔 주세요.",
            "Xk9#mP2vL8qR4t",
        ),
        (
            "A senha do banco de produção é Hq7vX2pL9wK3mZ8, troque depois do deploy.",
            "Hq7vX2pL9wK3mZ8",
        ),
        (
            "Mật khẩu của tài khoản deploy là Zt5!qW8eR2yU6i nhé.",
            "Zt5!qW8eR2yU6i",
        ),
        (
            "La contraseña del usuario de replicación es Pq9@wE3rT6yU1i.",
            "Pq9@wE3rT6yU1i",
        ),
        (
            "API-ключ для геокодера: 9f8e7d6c5b4a39281706f5e4d3c2b1a0",
            "9f8e7d6c5b4a39281706f5e4d3c2b1a0",
        ),
        (
            "Klucz API do mailera: Kq7Lm2Xv9Rt5Wp8Zn3Bc",
            "Kq7Lm2Xv9Rt5Wp8Zn3Bc",
        ),
        ("API anahtarı: Tz8Wq3Lm6Xv1Rp9Kn4Bd", "Tz8Wq3Lm6Xv1Rp9Kn4Bd"),
        (
            "La password del database di staging è Wm4!xQ8zR2vT6y, cambiala dopo il test.",
            "Wm4!xQ8zR2vT6y",
        ),
        (
            "Het wachtwoord voor de SFTP-server is Rv3#kL9mQ2xT7w.",
            "Rv3#kL9mQ2xT7w",
        ),
        (
            "A chave da API do gateway de pagamento é Jd8Kq2Lm5Xv9Rt3Wp7Zn.",
            "Jd8Kq2Lm5Xv9Rt3Wp7Zn",
        ),
    ];
    for (text, secret) in cases {
        let out = redacted(text);
        assert!(!out.contains(secret), "{out}");
        // Only the value goes: the sentence around it stays.
        let head = text.split(secret).next().unwrap_or_default();
        assert!(out.starts_with(head), "{out}");
    }
}

#[test]
fn sentences_about_passwords_in_other_languages_stay() {
    for text in [
        "Das ist der Schlüssel für die Tür, und es ist spät.",
        "Пароль должен быть не короче 12 символов.",
        "La contraseña es muy débil.",
        "비밀번호는 다음과 같습니다.",
        "Hasło do bazy to hasło z menedżera.",
        "La chiave è nel cassetto.",
    ] {
        assert_eq!(redacted(text), text);
    }
}
