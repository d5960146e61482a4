import pytest
from cryptography.fernet import Fernet

from apps.core import crypto


def test_roundtrip_and_ciphertext_differs():
    token = crypto.encrypt("s3cret-chap")
    assert token.startswith("fernet:")
    assert "s3cret" not in token
    assert crypto.decrypt(token) == "s3cret-chap"
    assert crypto.encrypt("s3cret-chap") != token  # random IV


def test_key_rotation(settings):
    old = Fernet.generate_key().decode()
    new = Fernet.generate_key().decode()
    settings.CALYPSO_ENCRYPTION_KEYS = [old]
    crypto._fernet.cache_clear()
    token = crypto.encrypt("value")
    settings.CALYPSO_ENCRYPTION_KEYS = [new, old]
    crypto._fernet.cache_clear()
    assert crypto.decrypt(token) == "value"
    settings.CALYPSO_ENCRYPTION_KEYS = [new]
    crypto._fernet.cache_clear()
    with pytest.raises(crypto.SecretDecryptionError):
        crypto.decrypt(token)
    crypto._fernet.cache_clear()


def test_plaintext_is_refused():
    with pytest.raises(crypto.SecretDecryptionError):
        crypto.decrypt("not encrypted")


@pytest.mark.django_db
def test_an_empty_secret_reads_back_empty_and_saves_again():
    from apps.iscsi.models import Target

    target = Target.objects.create(name="empty-secret")
    again = Target.objects.get(pk=target.pk)
    assert again.chap_secret == ""
    again.save()  # a NOT NULL column takes it back
