package io.ggipc.greengrass.model;

import io.ggipc.eventstreamrpc.model.EventStreamJsonMessage;
import java.util.Objects;

/** An MQTT 5 user property (key/value pair). */
public class UserProperty implements EventStreamJsonMessage {
    public static final String APPLICATION_MODEL_TYPE = "aws.greengrass#UserProperty";

    private String key;
    private String value;

    public UserProperty() {}

    public String getKey() {
        return key;
    }

    public void setKey(String key) {
        this.key = key;
    }

    public UserProperty withKey(String key) {
        setKey(key);
        return this;
    }

    public String getValue() {
        return value;
    }

    public void setValue(String value) {
        this.value = value;
    }

    public UserProperty withValue(String value) {
        setValue(value);
        return this;
    }

    @Override
    public String getApplicationModelType() {
        return APPLICATION_MODEL_TYPE;
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof UserProperty)) {
            return false;
        }
        UserProperty p = (UserProperty) o;
        return Objects.equals(key, p.key) && Objects.equals(value, p.value);
    }

    @Override
    public int hashCode() {
        return Objects.hash(key, value);
    }

    @Override
    public String toString() {
        return "UserProperty{key=" + key + ", value=" + value + "}";
    }
}
